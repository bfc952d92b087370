"""The command line: ``chirp`` / ``python main.py`` / ``python -m chirp``."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import pydantic
import trio

from chirp.config import Settings
from chirp.demo import DEFAULT_RATE, DEFAULT_USERS, GRAPHS, Demo, demo_graph, demo_settings
from chirp.server import Chirp, Running, serve
from storage.protocols import BackendUnavailable

logger = logging.getLogger("chirp")

COMMANDS = ("serve",)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="chirp",
        description="A Twitter-style social backend run as one process of supervised actors.",
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("serve", help="serve the API (the default command)")
    run.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a TOML file of settings (CHIRP_CONFIG; flags and CHIRP_* variables win over it)",
    )
    run.add_argument("--host", help="address to listen on (CHIRP_HOST; default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port, 0 for any free one (CHIRP_PORT; default 8000)")
    run.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="(CHIRP_LOG_LEVEL; default info)",
    )
    run.add_argument(
        "--admin-token",
        help="bearer token for /admin (CHIRP_ADMIN_TOKEN, which "
        "keeps it out of the process list; generated and printed when unset)",
    )
    run.add_argument(
        "--data-dir",
        type=Path,
        metavar="PATH",
        help="keep the embedded stores in PATH so they survive a restart, kill -9 included "
        "(CHIRP_DATA_DIR; default: in memory only)",
    )
    run.add_argument(
        "--partitions",
        action="append",
        metavar="TOPIC=N",
        default=[],
        help="partitions of a topic, repeatable (CHIRP_PARTITIONS as JSON)",
    )
    demo = run.add_argument_group(
        "demo mode", "a fresh embedded chirp seeded with a network, history and live activity"
    )
    demo.add_argument(
        "--demo",
        action="store_true",
        help="seed a believable network before serving, keep it busy, print a login",
    )
    demo.add_argument(
        "--demo-graph",
        choices=GRAPHS,
        default="power-law",
        help="who follows whom: a synthetic power-law graph with celebrities, or "
        "socfb-Reed98 from ../shared/data (default power-law)",
    )
    demo.add_argument(
        "--demo-users",
        type=_at_least(2, int),
        default=DEFAULT_USERS,
        metavar="N",
        help=f"users of the power-law graph (default {DEFAULT_USERS:,})",
    )
    demo.add_argument(
        "--demo-rate",
        type=_at_least(0.01, float),
        default=DEFAULT_RATE,
        metavar="PER_SECOND",
        help=f"background tweets, likes, retweets, replies and follows a second "
        f"(default {DEFAULT_RATE:g})",
    )
    return top


def _at_least(least: float, kind: Callable[[str], int | float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value >= least:  # also refuses NaN
            raise argparse.ArgumentTypeError(f"must be at least {least:g}, not {text}")
        return value

    return parse


def settings_from(args: argparse.Namespace) -> Settings:
    """Flags given on the command line override the environment."""
    overrides: dict[str, object] = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("log_level", args.log_level),
            ("admin_token", args.admin_token),
            ("data_dir", args.data_dir),
        )
        if value is not None
    }
    if args.partitions:
        counts: dict[str, str] = {}
        for item in args.partitions:
            topic, sep, count = item.partition("=")
            if not sep:
                raise ValueError(f"--partitions wants TOPIC=N, not {item!r}")
            counts[topic] = count
        overrides["partitions"] = counts
    config = args.config or (
        Path(os.environ["CHIRP_CONFIG"]) if "CHIRP_CONFIG" in os.environ else None
    )
    settings = Settings.load(config, **overrides)
    return demo_settings(settings) if args.demo else settings


#: The cyclic collector's thresholds for a serving process. With CPython's (700, 10, 10),
#: a feed page's hundred tweet dicts, alive across a few young collections while 64
#: requests are in flight, are promoted and soon force a full collection of the whole
#: heap (every tweet, user and feed held in memory): 45-65 ms pauses every second or two
#: under load, which were the open loop's p99. Measured with `python -m bench http`'s
#: setup at 200 feed reads/s: p99 49 ms before, 4.9 ms after (largest pause 6.5 ms).
GC_THRESHOLDS = (10_000, 20, 100)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv.insert(0, "serve")
    args = parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except pydantic.ValidationError as exc:
        # Without the values given: one of them may be the admin token.
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
            for error in exc.errors(include_input=False)
        )
        print(f"chirp: bad configuration: {problems}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"chirp: bad configuration: {exc}", file=sys.stderr)
        return 2
    demo = None
    if args.demo:
        try:
            graph = demo_graph(args.demo_graph, users=args.demo_users)
        except FileNotFoundError as exc:
            print(f"chirp: no {args.demo_graph} graph for the demo: {exc}", file=sys.stderr)
            return 2
        demo = Demo(graph, rate=args.demo_rate)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # coredis reports each retry at INFO, a script reloaded after a Redis restart included.
    logging.getLogger("coredis").setLevel(max(logging.WARNING, logging.root.level))
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        trio.run(serve_until_signalled, settings, demo)
    except BaseExceptionGroup as group:
        unreachable, rest = group.split(BackendUnavailable)
        if unreachable is None or rest is not None:
            raise
        for exc in _leaves(unreachable):
            print(f"chirp: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    found: list[BaseException] = []
    for exc in group.exceptions:
        found += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return found


class StoppedBeforeServing(Exception):
    """A signal came while the demo was seeding: the tree stopped in order, nothing served."""


async def serve_until_signalled(settings: Settings, demo: Demo | None = None) -> None:
    """Serve until SIGINT or SIGTERM; then drain and stop in order. A second signal ends
    the process at once. With ``demo``, it seeds first; a signal meanwhile stops the
    seeding where it is, then the tree in order, and nothing is served."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        signalled = trio.Event()
        # Only the seeding: cancelling the tree's own scope would end its timers before
        # the actors that wait on them had stopped.
        seeding = trio.CancelScope()

        async def first_signal() -> None:
            async for signum in signals:
                logger.info("%s: draining requests, then stopping", signal.Signals(signum).name)
                break
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_DFL)
            seeding.cancel()  # nothing once serving
            signalled.set()

        async def prepare(chirp: Chirp) -> None:
            assert demo is not None
            with seeding:
                await demo.prepare(chirp)
            if seeding.cancelled_caught:
                await chirp.system.shutdown()
                raise StoppedBeforeServing

        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(first_signal)
                running = await nursery.start(
                    partial(
                        serve,
                        settings,
                        shutdown_trigger=signalled.wait,
                        prepare=None if demo is None else prepare,
                    )
                )
                announce(running, demo)
        except* StoppedBeforeServing:
            print("chirp: stopped before serving", file=sys.stderr, flush=True)


def announce(running: Running, demo: Demo | None = None) -> None:
    chirp = running.chirp
    if demo is not None:
        token = chirp.admin_token if chirp.admin_token_generated else None
        for line in demo.lines(running.url, token):
            print(line, flush=True)
    if chirp.admin_token_generated:
        # Printed once to the console, never logged; set CHIRP_ADMIN_TOKEN to choose it.
        print(f"admin token: {chirp.admin_token}", flush=True)
    # Last, so whoever waits for this line has everything printed before it.
    print(f"chirp listening on {running.url}", flush=True)
