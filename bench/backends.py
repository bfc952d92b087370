"""``python -m bench backends``: the production backends, each beside a ceiling of this run.

Four sections, each its own table:
  clients      coredis (native trio) against redis-py's asyncio client through trio-asyncio
               on the Redis backend's own operations (`bench.redis_clients`): the faster
               one is the default.
  fanout       feed entries/s through `RedisFeedCache.push` (fan-out batches: tweets with
               rising ids, each to its author's followers' feeds; one shard pushing,
               then the service's shards at once) against
               ``redis-benchmark -P 16`` LPUSH/s on the same server, run just before and
               just after; the target is a ratio of at least `FANOUT_TARGET`.
  ceilings     chirp's feed push, feed page read and trend-use record against
               redis-benchmark's LPUSH, LRANGE_100 and ZINCRBY at -P 1 and -P 16
               (`bench.redis_ceilings`).
  configs      chirp in process, embedded and in the full production configuration
               (PostgreSQL, DynamoDB, Redis): tweets/s from concurrent writers through the
               tweet service with the consumer tree running, then home-feed read latency
               once the fan-out settled; the ratio production/embedded. DynamoDB is
               dynalite (Node, in memory) unless ``--dynamodb`` names a server.
Everything written goes under a namespace (key prefix, schema, table prefix) of this run's
own and is deleted afterwards, even when the run fails.
"""

from __future__ import annotations

import inspect
import math
import random
import secrets
import shutil
import statistics
import time
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import trio

from chirp.config import Settings
from chirp.server import Chirp, assemble
from storage.redis import open_redis

from . import redis_ceilings, redis_clients
from .actors import Row, report
from .feed import PAGE, settled, timed_reads
from .redis_ops import fanout_batches, fanout_rates, redis_benchmark
from .servers import (
    Unreachable,
    check_answers,
    check_postgres,
    dynamodb,
    in_tasks,
    on_servers,
    run,
)

SECTIONS = ("clients", "fanout", "ceilings", "configs")
FANOUT_TARGET = 0.5
#: redis-benchmark's own defaults but the pipeline depth and the key (its ``-t lpush``
#: writes ``mylist`` in the database it selects; ours goes under this run's prefix).
BENCHMARK_REQUESTS = 300_000
BENCHMARK_PIPELINE = 16


# -- section 2: the feed cache's fan-out against redis-benchmark ----------------------------


def lpush_benchmark(url: str, key: str) -> float:
    """LPUSH/s from ``redis-benchmark -P 16`` pushing to ``key`` (the command ``-t lpush``
    runs, on a key of our own)."""
    return redis_benchmark(
        url, ["LPUSH", key, "xxx"], pipeline=BENCHMARK_PIPELINE, requests=BENCHMARK_REQUESTS
    )


def fanout_section(url: str, users: int, tweets: int, followers: int, repeat: int) -> str:
    """Two rows against one ceiling: one shard pushing (each feed's new ids newer than
    its head: one LPUSH), and the service's shards pushing at once (their ids interleave,
    so many pushes merge into the feed's newest part). The target applies to the first,
    the figure the redis-benchmark row is comparable with; the second is what a busy
    service sees."""
    prefix = f"bench{secrets.token_hex(4)}:"
    shards = Settings().fanout_shards
    in_order = fanout_batches(users, tweets, followers, repeat + 1, 1)
    interleaved = fanout_batches(users, tweets, followers, repeat + 1, shards)
    per_run = sum(len(call) for calls in in_order[0] for call in calls)
    have_benchmark = shutil.which("redis-benchmark") is not None
    key = f"{prefix}mylist"
    try:
        before = lpush_benchmark(url, key) if have_benchmark else math.nan
        one = run(fanout_rates, url, prefix, in_order, users)
        many = run(fanout_rates, url, prefix, interleaved, users)
        after = lpush_benchmark(url, key) if have_benchmark else math.nan
    finally:
        run(drop_key, url, key)
    rate, busy = statistics.median(one), statistics.median(many)
    lines = [
        f"{tweets:,} tweets x ~{followers} followers among {users:,} users per batch "
        f"({per_run:,} entries); median of {repeat} batches after one untimed; ceiling: "
        f"redis-benchmark -P {BENCHMARK_PIPELINE} LPUSH, the better of the runs before and "
        "after",
    ]
    if not have_benchmark:
        lines.append("redis-benchmark is not on PATH: no ceiling, no ratio")
        lines.append(f"feed cache push: {rate:,.0f} entries/s, {shards} shards {busy:,.0f}")
        return "\n".join(lines)
    ceiling = max(before, after)
    lpush = f"redis-benchmark -P {BENCHMARK_PIPELINE} LPUSH"
    row = Row("feed cache push, 1 shard", rate, lpush, ceiling)
    lines.append(report([row, Row(f"feed cache push, {shards} shards", busy, lpush, ceiling)]))
    lines.append(
        f"LPUSH/s before {before:,.0f}, after {after:,.0f}; batches "
        + ", ".join(f"{r:,.0f}" for r in one)
        + f" entries/s; {shards} shards "
        + ", ".join(f"{r:,.0f}" for r in many)
    )
    verdict = "met" if row.ratio >= FANOUT_TARGET else "MISSED"
    lines.append(f"target: ratio >= {FANOUT_TARGET:.2f} (1 shard): {verdict} ({row.ratio:.2f})")
    return "\n".join(lines)


async def drop_key(url: str, key: str) -> None:
    async with open_redis(url) as client:
        await client.delete([key])


# -- section 3: embedded against production, in process --------------------------------------


@dataclass(frozen=True)
class Workload:
    users: int
    follows: int  # per user
    tweets: int
    reads: int
    writers: int
    seed: int = 7


@dataclass
class Figures:
    configuration: str
    setup_s: float = 0.0  # accounts, follows, warm feeds (not part of any rate)
    posted_per_s: float = 0.0  # the posts alone, the consumers running beside them
    settled_per_s: float = 0.0  # posted and fanned out
    reads_per_s: float = 0.0
    read_p50_ms: float = 0.0
    read_p99_ms: float = 0.0
    feed_hit_rate: float = 0.0


def bench_settings(**overrides: Any) -> Settings:
    return Settings(
        jwt_secret="x" * 32,
        admin_token="bench-admin-token-0123456789",
        password_memory_kib=64,
        password_time_cost=1,
        rate_tweets_per_user=10**9,
        rate_calls_per_user=10**9,
        rate_requests_per_ip=10**9,
        **overrides,
    )


async def populate(chirp: Chirp, work: Workload) -> list[int]:
    """Accounts through the user service, each following ``work.follows`` others (loaded
    straight into the graph store in bulk, as seeding does: following through the service
    costs a log event and a feed merge each, which is not what is measured); every user
    active with a cached (empty) feed, as a running service has its readers."""
    users = chirp.services.users
    ids: list[int] = [0] * work.users

    async def register(n: int) -> None:
        view, _ = await users.register(
            username=f"b{n}", email=f"b{n}@bench.example", password="long enough pw"
        )
        ids[n] = view.user.user_id

    await in_tasks(range(work.users), register)
    rng = random.Random(work.seed)
    pairs = [
        (ids[n], ids[m])
        for n in range(work.users)
        for m in rng.sample([m for m in range(work.users) if m != n], work.follows)
    ]
    loaded = chirp.stores.graph.load(pairs)  # type: ignore[attr-defined]
    if inspect.isawaitable(loaded):  # the memory store's is synchronous, PostgreSQL's not
        await loaded

    async def warm(user_id: int) -> None:
        await users.seen(user_id)
        await chirp.stores.cache.store_feed(user_id, [])

    await in_tasks(ids, warm)
    return ids


async def drive(chirp: Chirp, work: Workload, figures: Figures) -> Figures:
    """The tree running: load, post, let the fan-out settle, read."""
    async with trio.open_nursery() as nursery:
        await nursery.start(chirp.system.run)
        started = time.perf_counter()
        ids = await populate(chirp, work)
        figures.setup_s = time.perf_counter() - started

        rng = random.Random(work.seed + 1)
        authors = [rng.choice(ids) for _ in range(work.tweets)]
        post = chirp.services.tweets.post

        async def writer(index: int) -> None:
            for i in range(index, work.tweets, work.writers):
                await post(authors[i], f"tweet number {i} about #bench and @b{i % 97}")

        started = time.perf_counter()
        async with trio.open_nursery() as load:
            for index in range(work.writers):
                load.start_soon(writer, index)
        figures.posted_per_s = work.tweets / (time.perf_counter() - started)
        await settled(chirp)
        figures.settled_per_s = work.tweets / (time.perf_counter() - started)

        times = await timed_reads(chirp, [rng.choice(ids) for _ in range(work.reads)])
        figures.reads_per_s, figures.read_p50_ms = times.per_s, times.p50_ms
        figures.read_p99_ms, figures.feed_hit_rate = times.p99_ms, times.feed_hit_rate

        await chirp.system.shutdown()
        nursery.cancel_scope.cancel()
    return figures


async def embedded_run(work: Workload) -> Figures:
    return await drive(assemble(bench_settings()), work, Figures("embedded"))


async def production_run(settings: Settings, work: Workload) -> Figures:
    """chirp on the servers ``settings`` name; its namespace is dropped afterwards."""
    async with on_servers(settings) as chirp:
        return await drive(chirp, work, Figures("production"))


def configs_table(embedded: Figures, production: Figures, work: Workload) -> str:
    columns = [
        ("setup s", "setup_s", ".1f"),
        ("posted/s", "posted_per_s", ",.0f"),
        ("fanned out/s", "settled_per_s", ",.0f"),
        ("reads/s", "reads_per_s", ",.0f"),
        ("p50 ms", "read_p50_ms", ".2f"),
        ("p99 ms", "read_p99_ms", ".2f"),
        ("feed hits", "feed_hit_rate", ".2f"),
    ]
    lines = [
        f"{work.users} users following {work.follows} each; {work.tweets:,} tweets from "
        f"{work.writers} writers (posted/s: the posts alone, consumers running; fanned out/s: "
        f"until the fan-out settled); {work.reads:,} feed reads of {PAGE} tweets, one at a "
        "time (in the ratios, latency above 1 is slower, rates below 1 are)",
        f"{'configuration':<22}" + "".join(f"{title:>13}" for title, _, _ in columns),
        "-" * 100,
    ]
    for figures in (embedded, production):
        lines.append(
            f"{figures.configuration:<22}"
            + "".join(f"{format(getattr(figures, name), spec):>13}" for _, name, spec in columns)
        )
    ratios = []
    for _, name, _ in columns:
        base = getattr(embedded, name)
        ratios.append(f"{getattr(production, name) / base:>13.2f}" if base else f"{'-':>13}")
    lines.append(f"{'production/embedded':<22}" + "".join(ratios))
    return "\n".join(lines)


def configs_section(
    redis_url: str, postgres_dsn: str, dynamodb_url: str | None, work: Workload
) -> str:
    from chirp.backends import redacted_netloc
    from storage.redis.client import redacted

    embedded = run(embedded_run, work)

    def production(endpoint: str) -> Figures:
        settings = bench_settings(
            users=postgres_dsn,
            tweets=f"dynamodb://{urlsplit(endpoint).netloc}",
            cache=redis_url,
            namespace=f"bench{secrets.token_hex(4)}",
        )
        return run(production_run, settings, work)

    with dynamodb(dynamodb_url) as (endpoint, note):
        figures = production(endpoint)
    return "\n".join(
        [
            configs_table(embedded, figures, work),
            f"production: PostgreSQL {redacted_netloc(postgres_dsn)}, Redis "
            f"{redacted(redis_url)}; {note}",
        ]
    )


# -- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    sections: list[str]
    redis: str
    postgres: str
    dynamodb: str | None
    repeat: int
    ops: int
    calls: int
    fanout_users: int
    fanout_tweets: int
    followers: int
    fanout_repeat: int
    workload: Workload


def check_servers(options: Options) -> None:
    check_answers("Redis", options.redis, 6379)
    if "configs" in options.sections:
        check_answers("PostgreSQL", options.postgres, 5432)
        check_postgres(options.postgres)
        if options.dynamodb is not None:
            check_answers("DynamoDB", options.dynamodb, 80)


def main(options: Options) -> None:
    try:
        check_servers(options)
        if "clients" in options.sections:
            prefix = f"bench{secrets.token_hex(4)}:"
            rows = run(
                partial(redis_clients.compare, options.redis, prefix),
                options.ops,
                options.calls,
                options.repeat,
            )
            print(
                "1. Redis clients on the backend's operations: coredis (native trio) vs "
                f"redis-py asyncio through trio-asyncio; median of {options.repeat} runs"
            )
            print(redis_clients.table(rows))
            print()
        if "fanout" in options.sections:
            print("2. Redis feed cache fan-out vs redis-benchmark, same server, same run")
            print(
                fanout_section(
                    options.redis,
                    options.fanout_users,
                    options.fanout_tweets,
                    options.followers,
                    options.fanout_repeat,
                )
            )
            print()
        if "ceilings" in options.sections:
            print("3. chirp's Redis operations vs redis-benchmark at -P 1 and -P 16")
            print(redis_ceilings.section(options.redis).text)
            print()
        if "configs" in options.sections:
            print("4. Embedded vs production configuration, in process")
            print(
                configs_section(options.redis, options.postgres, options.dynamodb, options.workload)
            )
    except Unreachable as exc:
        raise SystemExit(f"bench backends: {exc}") from None
