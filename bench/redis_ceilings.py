"""``python -m bench backends --section ceilings`` (and ``python -m bench all --redis URL``):
chirp's three hot Redis operations beside ``redis-benchmark``'s nearest command, at
``-P 1`` and ``-P 16``, on the same server in the same run.

  LPUSH       the feed cache's fan-out push (the PUSH script: up to 100 feeds a call, as
              the fan-out shard flushes them), one shard pushing: feed entries/s
  LRANGE_100  the feed cache's page read (the PAGE script: the newest 100 ids of a feed
              of 1,000, TTL renewed): pages/s; redis-benchmark reads the first 100 of
              one of those very feeds
  ZINCRBY     the trending store's record of hashtag uses (the SET_USES script: per
              tweet its version, its tags and a ZADD by time, in batches of 100 as the
              trending consumers apply them): tweets/s; redis-benchmark increments one of
              1,000 tags

chirp's reads and records run as `CLIENTS` tasks on one client, as redis-benchmark runs
`CLIENTS` connections. -P 1 is the figure for one command per round trip; -P 16 is what
the server does when each connection keeps 16 in flight, and chirp's batches (many feeds
or tweets per script) are its way of getting there.
"""

from __future__ import annotations

import random
import secrets
import shutil
import statistics
from dataclasses import dataclass
from typing import Any

from storage.protocols import TweetTags
from storage.redis import RedisStores, open_redis

from .actors import Row, as_figures, report
from .redis_ops import (
    CLIENTS,
    FIRST_TWEET_ID,
    at_once,
    drop_prefix,
    fanout_batches,
    fanout_rates,
    redis_benchmark,
)
from .results import Section
from .servers import in_tasks, run

PIPELINES = (1, 16)
FEEDS, FEED_LENGTH, PAGE = 200, 1_000, 100
TAGS = 1_000
USES_PER_CALL = 100


@dataclass(frozen=True)
class Sizes:
    requests: int = 200_000  # per redis-benchmark run
    pages: int = 20_000  # chirp page reads per run
    uses: int = 100_000  # chirp tweets recorded per run
    fanout_users: int = 3_000  # as `bench backends --section fanout`
    fanout_tweets: int = 500
    followers: int = 40
    repeat: int = 3


QUICK = Sizes(
    requests=50_000, pages=4_000, uses=20_000, fanout_users=2_000, fanout_tweets=300, repeat=2
)


async def page_rates(url: str, prefix: str, sizes: Sizes) -> tuple[list[float], str]:
    """Pages/s of chirp's feed reads, per run; and the key of a feed for redis-benchmark
    to read (the caller drops the prefix)."""
    async with open_redis(url) as client:
        cache = RedisStores(client, prefix=prefix).feed_cache
        ids = [FIRST_TWEET_ID + n * 4_096 for n in range(FEED_LENGTH)]
        await in_tasks(range(FEEDS), lambda user: cache.store_feed(user, ids))
        rng = random.Random(3)
        readers = [rng.randrange(FEEDS) for _ in range(sizes.pages)]

        async def read(user: Any) -> None:
            page = await cache.feed(user, limit=PAGE)
            assert page is not None and len(page) == PAGE, "a stored feed read back short"

        await at_once(readers[: sizes.pages // 4], read, CLIENTS)  # warm, not kept
        rates = [await at_once(readers, read, CLIENTS) for _ in range(sizes.repeat)]
        return rates, f"{prefix}feed:{{0}}"


async def client_rates(url: str, feed_key: str, prefix: str, sizes: Sizes) -> dict[str, float]:
    """The Python client's own ceiling: coredis sending redis-benchmark's LRANGE_100 and
    ZINCRBY bare, from `CLIENTS` tasks, as many as chirp's page reads."""
    async with open_redis(url) as client:
        rng = random.Random(9)
        zset = f"{prefix}clientzset"

        async def lrange(_: Any) -> None:
            await client.lrange(feed_key, 0, PAGE - 1)

        async def zincrby(_: Any) -> None:
            await client.zincrby(zset, f"tag:{rng.randrange(TAGS)}", 1)

        calls = range(sizes.pages)
        return {
            "LRANGE_100": await at_once(calls, lrange, CLIENTS),
            "ZINCRBY": await at_once(calls, zincrby, CLIENTS),
        }


async def use_rates(url: str, prefix: str, sizes: Sizes) -> list[float]:
    """Tweets/s of chirp's records of hashtag uses, per run, each run's tweets new."""
    async with open_redis(url) as client:
        trends = RedisStores(client, prefix=prefix).trends
        rng = random.Random(5)
        tweet_id = FIRST_TWEET_ID
        rates = []
        for run_number in range(sizes.repeat + 1):
            calls = []
            for _ in range(sizes.uses // USES_PER_CALL):
                batch = []
                for _ in range(USES_PER_CALL):
                    tweet_id += 1
                    tags = tuple(f"tag{rng.randrange(TAGS)}" for _ in range(2))
                    batch.append(TweetTags(tweet_id, 1, rng.randrange(10_000), 1.7e9, tags))
                calls.append(batch)

            async def record(batch: Any) -> None:
                await trends.set_uses("global", batch)

            rate = await at_once(calls, record, CLIENTS) * USES_PER_CALL
            if run_number:  # the first warms the script cache and the hashes
                rates.append(rate)
        return rates


def benchmarks(url: str, feed_key: str, prefix: str, sizes: Sizes) -> dict[str, dict[int, float]]:
    commands = {
        "LPUSH": (["LPUSH", f"{prefix}mylist", "xxx"], 0),
        "LRANGE_100": (["LRANGE", feed_key, "0", str(PAGE - 1)], 0),
        "ZINCRBY": (["ZINCRBY", f"{prefix}myzset", "1", "tag:__rand_int__"], TAGS),
    }
    return {
        name: {
            p: redis_benchmark(url, command, pipeline=p, requests=sizes.requests, keyspace=space)
            for p in PIPELINES
        }
        for name, (command, space) in commands.items()
    }


NAMED = {
    "LPUSH": "feed cache push (entries/s)",
    "LRANGE_100": "feed page of 100 (pages/s)",
    "ZINCRBY": "trend use records (tweets/s)",
}


def rows(
    chirp: dict[str, float], ceilings: dict[str, dict[int, float]], bare: dict[str, float]
) -> list[Row]:
    """Per operation, chirp's figure against redis-benchmark at each pipeline depth, and
    against the client sending the bare command where there is one to send."""
    table = []
    for command, name in NAMED.items():
        for p in PIPELINES:
            ceiling = f"redis-benchmark -P {p} {command}"
            table.append(Row(name, chirp[command], ceiling, ceilings[command][p]))
        if command in bare:
            table.append(Row(name, chirp[command], f"coredis, bare {command}", bare[command]))
    return table


def section(url: str, sizes: Sizes = Sizes()) -> Section:
    if shutil.which("redis-benchmark") is None:
        raise RuntimeError("redis-benchmark is not installed (apt-get install redis-tools)")
    prefix = f"bench{secrets.token_hex(4)}:"
    try:
        pushes = fanout_batches(
            sizes.fanout_users, sizes.fanout_tweets, sizes.followers, sizes.repeat + 1, 1
        )
        pushed = run(fanout_rates, url, f"{prefix}push:", pushes, sizes.fanout_users)
        pages, feed_key = run(page_rates, url, prefix, sizes)
        uses = run(use_rates, url, prefix, sizes)
        ceilings = benchmarks(url, feed_key, prefix, sizes)
        bare = run(client_rates, url, feed_key, prefix, sizes)
    finally:
        run(_drop, url, prefix)
    chirp = {
        "LPUSH": statistics.median(pushed),
        "LRANGE_100": statistics.median(pages),
        "ZINCRBY": statistics.median(uses),
    }
    table = rows(chirp, ceilings, bare)
    text = "\n".join(
        [
            report(table),
            f"chirp: median of {sizes.repeat} runs after one untimed; {CLIENTS} tasks on one "
            f"client for reads and records, as redis-benchmark's {CLIENTS} connections; "
            f"{sizes.requests:,} requests per redis-benchmark run",
        ]
    )
    return Section(
        "redis",
        "Redis operations vs redis-benchmark",
        as_figures(table, "ops/s"),
        text,
        {"chirp": chirp, "redis_benchmark": ceilings, "coredis_bare": bare},
    )


async def _drop(url: str, prefix: str) -> None:
    async with open_redis(url) as client:
        await drop_prefix(client, prefix)


def main(url: str, quick: bool) -> None:
    print(section(url, QUICK if quick else Sizes()).text)
