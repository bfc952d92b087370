"""``python -m bench SCENARIO``: run a benchmark and print its figures and ratios."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import actors, backends, feed, over_http, read, recovery, soak, write
from bench import suite as everything


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
    feeds.add_argument(
        "--tweet-store",
        choices=["memory", "dynamodb"],
        default="memory",
        help="where tweets live (default: embedded); pure pull queries it per followee",
    )
    feeds.add_argument(
        "--dynamodb", metavar="URL", help="with --tweet-store dynamodb; default: start dynalite"
    )
    feeds.add_argument(
        "--feed-cache", default="memory", metavar="URL", help="redis://… (default: embedded)"
    )
    reads = scenarios.add_parser(
        "read", help="trending, search and notification reads; search indexing lag"
    )
    reads.add_argument("--users", type=int, default=2_000)
    reads.add_argument("--tweets", type=int, default=20_000)
    reads.add_argument("--reads", type=int, default=5_000, help="per kind of read")
    reads.add_argument("--burst", type=int, default=1_000, help="tweets in the lag burst")
    recover = scenarios.add_parser(
        "recovery", help="start-up of --data-dir on a long journal, against reading its bytes"
    )
    recover.add_argument("--events", type=int, default=recovery.EVENTS, help="journaled")
    recover.add_argument("--tweets", type=int, default=recovery.TWEETS, help="per write run")
    recover.add_argument("--repeat", type=int, default=3, help="write runs per figure (median)")
    stores = scenarios.add_parser(
        "backends",
        help="Redis clients, the Redis fan-out vs redis-benchmark, embedded vs production",
    )
    stores.add_argument(
        "--section", action="append", choices=list(backends.SECTIONS), help="default: all"
    )
    stores.add_argument("--redis", default="redis://127.0.0.1:6379/0", metavar="URL")
    stores.add_argument(
        "--postgres", default="postgresql://root@127.0.0.1:5432/test", metavar="DSN"
    )
    stores.add_argument(
        "--dynamodb", metavar="URL", help="http://host:port; default: start dynalite"
    )
    stores.add_argument("--repeat", type=int, default=3, help="client runs per figure (median)")
    stores.add_argument("--ops", type=int, default=20_000, help="pipelined commands per run")
    stores.add_argument("--calls", type=int, default=5_000, help="concurrent calls per run")
    stores.add_argument("--fanout-users", type=int, default=3_000)
    stores.add_argument("--fanout-tweets", type=int, default=500, help="tweets per batch")
    stores.add_argument("--followers", type=int, default=40, help="per tweet, on average")
    stores.add_argument("--fanout-repeat", type=int, default=5, help="batches (median)")
    stores.add_argument("--users", type=int, default=500)
    stores.add_argument("--follows", type=int, default=20, help="followees per user")
    stores.add_argument("--tweets", type=int, default=2_000)
    stores.add_argument("--reads", type=int, default=2_000)
    stores.add_argument("--writers", type=int, default=64)
    http = scenarios.add_parser(
        "http", help="chirp over HTTP (wrk, open loop) against the stack's ceilings"
    )
    http.add_argument(
        "--graph", choices=["reed98", "power-law"], default="reed98", help="default: reed98"
    )
    http.add_argument("--users", type=int, help="the graph's N most connected (default: all)")
    http.add_argument("--tweets-per-user", type=int, default=5)
    http.add_argument("--seconds", type=float, default=10.0, help="per closed-loop run")
    http.add_argument("--open-seconds", type=float, default=10.0, help="per open-loop run")
    http.add_argument("--connections", type=int, default=32)
    soaks = scenarios.add_parser(
        "soak", help="a steady mixed load over HTTP: RSS slope per hour and p99 drift"
    )
    soak.add_arguments(soaks)
    every = scenarios.add_parser(
        "all", help="every scenario, then the table and bench/results/<timestamp>/"
    )
    every.add_argument("--quick", action="store_true", help="small sizes: about two minutes")
    every.add_argument(
        "--only", action="append", choices=list(everything.SCENARIOS), help="default: all"
    )
    every.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/0",
        metavar="URL",
        help="for the Redis feed cache's bytes per entry ('' to leave Redis out)",
    )
    every.add_argument("--out", type=Path, help="folder (default: bench/results/<timestamp>)")
    args = top.parse_args()
    if args.scenario == "feed" and args.dynamodb and args.tweet_store != "dynamodb":
        top.error("--dynamodb names the tweet store's server: give --tweet-store dynamodb too")
    if args.scenario == "all":
        everything.main(quick=args.quick, only=args.only, redis=args.redis or None, out=args.out)
    elif args.scenario == "http":
        over_http.main(
            over_http.HttpOptions(
                users=args.users,
                graph=args.graph,
                tweets_per_user=args.tweets_per_user,
                seconds=args.seconds,
                open_seconds=args.open_seconds,
                connections=args.connections,
            )
        )
    elif args.scenario == "soak":
        soak.main(soak.options_from(args, soaks))
    elif args.scenario == "actors":
        actors.main(args.messages, args.events, args.repeat)
    elif args.scenario == "write":
        write.main(args.tweets, args.repeat)
    elif args.scenario == "recovery":
        recovery.main(args.events, args.tweets, args.repeat)
    elif args.scenario == "read":
        read.main(args.users, args.tweets, args.reads, args.burst)
    elif args.scenario == "backends":
        backends.main(
            backends.Options(
                sections=args.section or list(backends.SECTIONS),
                redis=args.redis,
                postgres=args.postgres,
                dynamodb=args.dynamodb,
                repeat=args.repeat,
                ops=args.ops,
                calls=args.calls,
                fanout_users=args.fanout_users,
                fanout_tweets=args.fanout_tweets,
                followers=args.followers,
                fanout_repeat=args.fanout_repeat,
                workload=backends.Workload(
                    users=args.users,
                    follows=args.follows,
                    tweets=args.tweets,
                    reads=args.reads,
                    writers=args.writers,
                ),
            )
        )
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
            tweet_store=args.tweet_store,
            dynamodb_url=args.dynamodb,
            feed_cache=args.feed_cache,
        )


if __name__ == "__main__":
    main()
