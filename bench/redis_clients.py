"""Redis clients for chirp's Redis backend, on the backend's own operations.

coredis runs natively on trio; redis-py's asyncio client runs under trio-asyncio, each
call (or each pipeline) bridged once, as a store's method would bridge it. Both clients
keep their own defaults (connection pools, parsers: redis-py uses hiredis when installed),
as the backend would open them. The figures, each the median of ``repeat`` runs with the
two clients' runs interleaved so a noisy spell on a shared machine hits both:

  LPUSH, pipelined        pipelines of `BATCH`, one after another (the feed cache's batches)
  LPUSH, concurrent       `TASKS` trio tasks, one call at a time each (request handlers)
  LRANGE 0 99, concurrent `TASKS` tasks reading a 100-id list (a feed page)
  EVALSHA, pipelined      a small LPUSH+LTRIM script in pipelines of `BATCH` (the feed
                          cache's pushes are scripts)
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import trio

from storage.redis import open_redis

BATCH = 100  # commands per pipeline, as `storage.redis.feedcache.BATCH`
TASKS = 32  # concurrent callers
LIST_LENGTH = 100  # the list LRANGE reads
FEEDS = 1_000  # lists the script pushes to
#: Shaped like the feed cache's push: the id goes on, the list is held to its capacity.
SCRIPT = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, 999)
return 1
"""
#: A Snowflake-sized id, as the feeds hold.
VALUE = b"7301234567890123456"


class Client(Protocol):
    """One Redis client, as the benchmark drives it: each method is one bridged unit of work."""

    name: str

    async def lpush_batch(self, key: str, count: int) -> None: ...

    async def lpush(self, key: str) -> None: ...

    async def lrange(self, key: str) -> None: ...

    async def evalsha_batch(self, sha: str, keys: list[str]) -> None: ...

    async def script_load(self, source: str) -> str: ...

    async def fill(self, key: str, length: int) -> None: ...


class Coredis:
    name = "coredis"

    def __init__(self, client: Any) -> None:
        self._client = client

    async def lpush_batch(self, key: str, count: int) -> None:
        async with self._client.pipeline(transaction=False) as pipeline:
            handles = [pipeline.lpush(key, [VALUE]) for _ in range(count)]
        for handle in handles:
            await handle

    async def lpush(self, key: str) -> None:
        await self._client.lpush(key, [VALUE])

    async def lrange(self, key: str) -> None:
        await self._client.lrange(key, 0, LIST_LENGTH - 1)

    async def evalsha_batch(self, sha: str, keys: list[str]) -> None:
        async with self._client.pipeline(transaction=False) as pipeline:
            handles = [pipeline.evalsha(sha, keys=[key], args=[VALUE]) for key in keys]
        for handle in handles:
            await handle

    async def script_load(self, source: str) -> str:
        sha = await self._client.script_load(source)
        return sha.decode() if isinstance(sha, bytes) else sha

    async def fill(self, key: str, length: int) -> None:
        await self._client.rpush(key, [VALUE] * length)

    async def delete_prefixed(self, prefix: str) -> None:
        """Delete every key under ``prefix`` (SCAN, then DEL in thousands)."""
        keys = [k async for k in self._client.scan_iter(match=f"{prefix}*")]
        for start in range(0, len(keys), 1000):
            await self._client.delete(keys[start : start + 1000])


class RedisPy:
    """redis-py's asyncio client, every unit of work one coroutine bridged into trio."""

    name = "redis-py"

    def __init__(self, client: Any, loop: Any) -> None:
        self._client = client
        self._loop = loop

    async def lpush_batch(self, key: str, count: int) -> None:
        async def batch() -> Any:
            async with self._client.pipeline(transaction=False) as pipeline:
                for _ in range(count):
                    pipeline.lpush(key, VALUE)
                return await pipeline.execute()

        await self._loop.run_aio_coroutine(batch())

    async def lpush(self, key: str) -> None:
        await self._loop.run_aio_coroutine(self._client.lpush(key, VALUE))

    async def lrange(self, key: str) -> None:
        await self._loop.run_aio_coroutine(self._client.lrange(key, 0, LIST_LENGTH - 1))

    async def evalsha_batch(self, sha: str, keys: list[str]) -> None:
        async def batch() -> Any:
            async with self._client.pipeline(transaction=False) as pipeline:
                for key in keys:
                    pipeline.evalsha(sha, 1, key, VALUE)
                return await pipeline.execute()

        await self._loop.run_aio_coroutine(batch())

    async def script_load(self, source: str) -> str:
        sha = await self._loop.run_aio_coroutine(self._client.script_load(source))
        return sha.decode() if isinstance(sha, bytes) else sha

    async def fill(self, key: str, length: int) -> None:
        await self._loop.run_aio_coroutine(self._client.rpush(key, *[VALUE] * length))


@asynccontextmanager
async def both_clients(url: str) -> AsyncIterator[tuple[Coredis, RedisPy]]:
    """coredis and redis-py on ``url``, closed on exit. Raises `BackendUnavailable` when
    the server does not answer (coredis is opened first, and checks)."""
    import redis.asyncio
    import trio_asyncio

    async with open_redis(url) as native, trio_asyncio.open_loop() as loop:
        bridged = redis.asyncio.Redis.from_url(url)
        try:
            await loop.run_aio_coroutine(bridged.ping())
            yield Coredis(native), RedisPy(bridged, loop)
        finally:
            with trio.CancelScope(shield=True):
                await loop.run_aio_coroutine(bridged.aclose())


@dataclass
class Comparison:
    operation: str
    coredis: float  # ops/s
    redis_py: float  # ops/s

    @property
    def ratio(self) -> float:
        return self.coredis / self.redis_py

    @property
    def faster(self) -> str:
        return "coredis" if self.coredis >= self.redis_py else "redis-py"


async def timed(ops: int, work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return ops / (time.perf_counter() - started)


async def pipelined_lpush(client: Client, prefix: str, ops: int) -> float:
    key = f"{prefix}lpush:{client.name}"

    async def work() -> None:
        for start in range(0, ops, BATCH):
            await client.lpush_batch(key, min(BATCH, ops - start))

    return await timed(ops, work)


async def concurrent(ops: int, call: Callable[[int], Awaitable[None]]) -> float:
    """``ops`` calls of ``call(task)`` spread over `TASKS` trio tasks."""

    async def caller(task: int) -> None:
        for _ in range(task, ops, TASKS):
            await call(task)

    async def work() -> None:
        async with trio.open_nursery() as nursery:
            for task in range(TASKS):
                nursery.start_soon(caller, task)

    return await timed(ops, work)


async def concurrent_lpush(client: Client, prefix: str, ops: int) -> float:
    keys = [f"{prefix}lpush:{client.name}:{task}" for task in range(TASKS)]
    return await concurrent(ops, lambda task: client.lpush(keys[task]))


async def concurrent_lrange(client: Client, prefix: str, ops: int) -> float:
    key = f"{prefix}lrange"
    return await concurrent(ops, lambda _: client.lrange(key))


async def pipelined_evalsha(client: Client, prefix: str, ops: int, sha: str) -> float:
    keys = [f"{prefix}feed:{client.name}:{n % FEEDS}" for n in range(ops)]

    async def work() -> None:
        for start in range(0, ops, BATCH):
            await client.evalsha_batch(sha, keys[start : start + BATCH])

    return await timed(ops, work)


async def compare(url: str, prefix: str, ops: int, calls: int, repeat: int) -> list[Comparison]:
    """The four operations on both clients; keys under ``prefix``, deleted afterwards."""
    async with both_clients(url) as (native, bridged):
        try:
            await native.fill(f"{prefix}lrange", LIST_LENGTH)
            sha = await native.script_load(SCRIPT)
            assert sha == await bridged.script_load(SCRIPT)
            measures: list[tuple[str, Callable[[Client], Awaitable[float]]]] = [
                (f"LPUSH, pipelines of {BATCH}", lambda c: pipelined_lpush(c, prefix, ops)),
                (f"LPUSH, {TASKS} tasks", lambda c: concurrent_lpush(c, prefix, calls)),
                (
                    f"LRANGE 0 {LIST_LENGTH - 1}, {TASKS} tasks",
                    lambda c: concurrent_lrange(c, prefix, calls),
                ),
                (
                    f"EVALSHA, pipelines of {BATCH}",
                    lambda c: pipelined_evalsha(c, prefix, ops, sha),
                ),
            ]
            rows = []
            for operation, measure in measures:
                rates: dict[str, list[float]] = {native.name: [], bridged.name: []}
                for run in range(repeat):
                    # Alternate who goes first: a warm-up or a noisy spell favours neither.
                    order = (native, bridged) if run % 2 == 0 else (bridged, native)
                    for client in order:
                        rates[client.name].append(await measure(client))
                rows.append(
                    Comparison(
                        operation,
                        statistics.median(rates[native.name]),
                        statistics.median(rates[bridged.name]),
                    )
                )
            return rows
        finally:
            with trio.CancelScope(shield=True):
                await native.delete_prefixed(prefix)


def verdict(rows: list[Comparison]) -> str:
    wins = sum(row.faster == "coredis" for row in rows)
    mean = math.exp(statistics.fmean(math.log(row.ratio) for row in rows))
    if mean >= 1:
        choice = "keep coredis (native trio) as the default"
        leader, led = "coredis", wins
    else:
        choice = "redis-py through trio-asyncio would be the faster default"
        leader, led = "redis-py", len(rows) - wins
    return (
        f"verdict: {leader} is faster on {led} of {len(rows)} operations, geometric mean "
        f"coredis/redis-py {mean:.2f}: {choice}"
    )


def table(rows: list[Comparison]) -> str:
    lines = [
        f"{'operation':<30} {'coredis ops/s':>14} {'redis-py ops/s':>15}  "
        f"{'coredis/redis-py':>16}  faster",
        "-" * 100,
    ]
    for row in rows:
        lines.append(
            f"{row.operation:<30} {row.coredis:>14,.0f} {row.redis_py:>15,.0f}  "
            f"{row.ratio:>16.2f}  {row.faster}"
        )
    lines.append(verdict(rows))
    return "\n".join(lines)
