"""Every backend of every store, opened fresh for one test, for the contract suites.

``opened(kind, backend, servers)`` yields the store; what a real backend wrote goes with
it (its keys, schema or tables carry a name of their own, so runs sharing a server never
see each other's data)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from storage import memory
from tests.servers import Servers

MEMORY: dict[str, Callable[[], Any]] = {
    "users": memory.MemoryUserStore,
    "graph": memory.MemoryGraphStore,
    "tweets": memory.MemoryTweetStore,
    "engagement": memory.MemoryEngagementStore,
    "rate_limits": memory.MemoryRateLimitStore,
    "activity": memory.MemoryActivityStore,
    "trends": memory.MemoryTrendStore,
    "notifications": memory.MemoryNotificationStore,
}

#: Which real backends hold each kind of store (the memory one holds them all).
REAL: dict[str, tuple[str, ...]] = {
    "users": ("postgres",),
    "graph": ("postgres",),
    "engagement": ("postgres",),
    "tweets": ("dynamodb",),
    "rate_limits": ("redis",),
    "activity": ("redis",),
    "trends": ("redis",),
    "notifications": ("redis",),
    "feed_cache": ("redis",),
}


def backends(kind: str) -> list[str]:
    """The backends of ``kind``: the embedded one first, then the real ones."""
    return ["memory", *REAL.get(kind, ())]


def scratch_name(prefix: str) -> str:
    return f"{prefix}{secrets.token_hex(4)}"


@asynccontextmanager
async def opened(kind: str, backend: str, servers: Servers) -> AsyncIterator[Any]:
    if backend == "memory":
        yield MEMORY[kind]()
    elif backend == "redis":
        async with scratch_redis(servers.redis_url) as stores:
            yield getattr(stores, kind)
    elif backend == "postgres":
        from tests.pg import scratch_postgres

        async with scratch_postgres(servers.postgres_dsn) as database:
            yield getattr(database, kind)
    elif backend == "dynamodb":
        from tests.dynamo import scratch_dynamodb

        async with scratch_dynamodb(servers.dynamodb_endpoint) as database:
            yield getattr(database, kind)
    else:
        raise LookupError(f"no backend {backend!r}")


@asynccontextmanager
async def scratch_redis(url: str, **options: Any) -> AsyncIterator[Any]:
    """`RedisStores` (given ``options``) under a key prefix of their own, deleted
    afterwards."""
    from storage.redis import RedisStores, open_redis

    prefix = scratch_name("test") + ":"
    async with open_redis(url) as client:
        try:
            yield RedisStores(client, prefix=prefix, **options)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(keys)
