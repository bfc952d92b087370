"""Rate-limit buckets on Redis, shared by every process that shares the server."""

from __future__ import annotations

import coredis

from chirp.ratelimit import Decision
from storage.atomic import atomic

from . import lua
from .scripts import Script


@atomic
class RedisRateLimitStore:
    """A `RateLimitStore`: GCRA in a Lua script, one key per bucket (``ratelimit:{key}``)
    holding its theoretical arrival time, expiring when the bucket is full again."""

    def __init__(self, client: coredis.Redis, *, prefix: str = "") -> None:
        self._prefix = prefix
        self._gcra = Script(client, lua.GCRA)

    async def acquire(self, key: str, limit: int, period: float, now: float) -> Decision:
        allowed, remaining, retry_after, reset_after = await self._gcra(
            keys=[f"{self._prefix}ratelimit:{{{key}}}"],
            args=[repr(float(now)), str(limit), repr(float(period))],
        )
        return Decision(
            bool(allowed), limit, int(remaining), float(retry_after), float(reset_after)
        )
