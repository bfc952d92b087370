"""``python -m bench SCENARIO``: run a benchmark and print its figures and ratios."""

from __future__ import annotations

import argparse

from bench import actors, feed, read, write


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
    feeds = scenarios.add_parser(
        "feed", help="home feeds: hybrid vs pure push vs pure pull, against a bare loop"
    )
    feeds.add_argument(
        "--graph", action="append", choices=["reed98", "power-law"], help="default: both"
    )
    feeds.add_argument("--mode", action="append", choices=list(feed.MODES), help="default: all")
    feeds.add_argument("--users", type=int, default=120_000, help="power-law graph size")
    feeds.add_argument("--tweets", type=int, default=20_000)
    feeds.add_argument("--reads", type=int, default=20_000)
    feeds.add_argument("--writers", type=int, default=64)
    feeds.add_argument("--active", type=float, default=0.5, help="share of users active")
    feeds.add_argument("--cache-nodes", type=int, default=3)
    reads = scenarios.add_parser(
        "read", help="trending, search and notification reads; search indexing lag"
    )
    reads.add_argument("--users", type=int, default=2_000)
    reads.add_argument("--tweets", type=int, default=20_000)
    reads.add_argument("--reads", type=int, default=5_000, help="per kind of read")
    reads.add_argument("--burst", type=int, default=1_000, help="tweets in the lag burst")
    args = top.parse_args()
    if args.scenario == "actors":
        actors.main(args.messages, args.events, args.repeat)
    elif args.scenario == "write":
        write.main(args.tweets, args.repeat)
    elif args.scenario == "read":
        read.main(args.users, args.tweets, args.reads, args.burst)
    elif args.scenario == "feed":
        feed.main(
            graphs=args.graph or ["reed98", "power-law"],
            modes=args.mode or list(feed.MODES),
            users=args.users,
            tweets=args.tweets,
            reads=args.reads,
            writers=args.writers,
            active_share=args.active,
            cache_nodes=args.cache_nodes,
        )


if __name__ == "__main__":
    main()
