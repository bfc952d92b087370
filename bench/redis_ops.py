"""chirp's Redis operations driven flat out, and ``redis-benchmark`` on the same server:
the pieces `bench.backends` and `bench.redis_ceilings` measure with."""

from __future__ import annotations

import csv
import gc
import io
import random
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import coredis
import trio

from chirp.services.fanout import FLUSH_AT
from storage.redis import RedisStores, open_redis

from .servers import in_tasks

#: redis-benchmark's own default: connections at once. chirp's side runs as many tasks.
CLIENTS = 50
FIRST_TWEET_ID = 7_300_000_000_000_000_000  # Snowflake-sized ids, rising


def redis_benchmark(
    url: str, command: Sequence[str], *, pipeline: int, requests: int, keyspace: int = 0
) -> float:
    """Requests/s from ``redis-benchmark -P pipeline`` running ``command`` on ``url``'s
    server and database with its default `CLIENTS` connections. With ``keyspace``, each
    ``__rand_int__`` in the command becomes a random number below it."""
    parts = urlsplit(url)
    argv = [
        "redis-benchmark",
        "-h",
        parts.hostname or "127.0.0.1",
        "-p",
        str(parts.port or 6379),
        "--dbnum",
        parts.path.strip("/") or "0",
        "-c",
        str(CLIENTS),
        "-P",
        str(pipeline),
        "-n",
        str(requests),
        "-q",
        "--csv",
    ]
    if keyspace:
        argv += ["-r", str(keyspace)]
    if parts.password:
        argv += ["-a", parts.password] + (["--user", parts.username] if parts.username else [])
    done = subprocess.run(
        [*argv, *command], capture_output=True, text=True, timeout=300, check=False
    )
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    if done.returncode != 0 or not rows:
        raise RuntimeError(f"redis-benchmark failed: {(done.stderr or done.stdout).strip()}")
    return float(rows[-1]["rps"])


#: One fan-out batch: per shard, its push calls in order.
Batch = list[list[list[tuple[int, int]]]]


def fanout_batches(
    users: int, tweets: int, followers: int, repeat: int, shards: int, seed: int = 11
) -> list[Batch]:
    """Per run, the push calls of one fan-out batch of ``tweets`` tweets: each tweet (ids
    rising across runs) to its author and about ``followers`` random followers. As in the
    service, a tweet belongs to one of ``shards`` fan-out shards (by author), and each
    shard flushes every `FLUSH_AT` entries as `FanoutService.spread` does."""
    rng = random.Random(seed)
    tweet_id = FIRST_TWEET_ID
    runs = []
    for _ in range(repeat):
        calls: Batch = [[] for _ in range(shards)]
        pending: list[list[tuple[int, int]]] = [[] for _ in range(shards)]
        for _ in range(tweets):
            tweet_id += rng.randrange(1, 1 << 22)
            author = rng.randrange(users)
            reached = rng.sample(range(users), rng.randint(followers // 2, followers * 3 // 2))
            entries = pending[author % shards]
            entries.append((author, tweet_id))
            entries.extend((follower, tweet_id) for follower in reached if follower != author)
            if len(entries) >= FLUSH_AT:
                calls[author % shards].append(entries)
                pending[author % shards] = []
        for shard, entries in enumerate(pending):
            if entries:
                calls[shard].append(entries)
        runs.append(calls)
    return runs


async def fanout_rates(url: str, prefix: str, runs: list[Batch], users: int) -> list[float]:
    """Entries/s of each run's pushes but the first (it warms the connections, the
    script cache and the lists), every shard's calls in a task of its own as the
    service's shards run (every user's feed cached first, so they all land)."""
    async with open_redis(url) as client:
        cache = RedisStores(client, prefix=prefix).feed_cache
        try:
            await in_tasks(range(users), lambda user: cache.store_feed(user, []))
            # The batches' million objects out of the cyclic collector's way, or its
            # full passes land in whichever push is being timed.
            gc.collect()
            gc.freeze()
            rates = []
            for shards in runs:
                entries = sum(len(call) for calls in shards for call in calls)

                async def shard(calls: list[list[tuple[int, int]]]) -> None:
                    for call in calls:
                        await cache.push(call)

                started = time.perf_counter()
                async with trio.open_nursery() as nursery:
                    for calls in shards:
                        nursery.start_soon(shard, calls)
                rates.append(entries / (time.perf_counter() - started))
            return rates[1:]
        finally:
            gc.unfreeze()
            await drop_prefix(client, prefix)


async def drop_prefix(client: coredis.Redis, prefix: str) -> None:
    """Delete every key under ``prefix``, even while the caller is being cancelled."""
    with trio.CancelScope(shield=True):
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        for start in range(0, len(keys), 1000):
            await client.delete(keys[start : start + 1000])


async def at_once(
    items: Sequence[object] | range, work: Callable[[object], Awaitable[object]], tasks: int
) -> float:
    """`in_tasks`, timed: the items done per second."""
    started = time.perf_counter()
    await in_tasks(items, work, tasks)
    return len(items) / (time.perf_counter() - started)
