"""``python -m bench SCENARIO``: run a benchmark and print its figures and ratios."""

from __future__ import annotations

import argparse

from bench import actors, write


def main() -> None:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    scenarios = top.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    runtime = scenarios.add_parser(
        "actors", help="tell/ask and the event log against raw trio channels"
    )
    runtime.add_argument("--messages", type=int, default=200_000, help="per tell/ask run")
    runtime.add_argument("--events", type=int, default=200_000, help="per log run")
    runtime.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    writes = scenarios.add_parser(
        "write", help="tweets through the service layer against the raw log publish rate"
    )
    writes.add_argument("--tweets", type=int, default=20_000, help="per run")
    writes.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    args = top.parse_args()
    if args.scenario == "actors":
        actors.main(args.messages, args.events, args.repeat)
    elif args.scenario == "write":
        write.main(args.tweets, args.repeat)


if __name__ == "__main__":
    main()
