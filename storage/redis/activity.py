"""When users were last active, on Redis."""

from __future__ import annotations

from collections.abc import Iterable

import coredis

from storage.atomic import atomic

CHUNK = 1000  # fields per HMGET


@atomic
class RedisActivityStore:
    """An `ActivityStore`: one hash (``activity``), user → last activity. Each process
    skips a touch within `RESOLUTION` seconds of the last one it wrote for that user, so
    a busy user costs a write a minute per process, not one per request."""

    RESOLUTION = 60.0
    MEMO = 1 << 20  # users whose last write this process remembers

    def __init__(self, client: coredis.Redis, *, prefix: str = "") -> None:
        self._client = client
        self._key = f"{prefix}activity"
        self._written: dict[int, float] = {}

    async def touch(self, user_id: int, at: float) -> None:
        if at - self._written.get(user_id, float("-inf")) < self.RESOLUTION:
            return
        if len(self._written) >= self.MEMO:
            self._written.clear()
        self._written[user_id] = at
        await self._client.hset(self._key, {str(user_id): repr(float(at))})

    async def active_since(self, user_ids: Iterable[int], since: float) -> set[int]:
        ids = list(user_ids)
        floor = since - self.RESOLUTION  # a touch skipped within it was still activity
        active: set[int] = set()
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            seen = await self._client.hmget(self._key, [str(u) for u in chunk])
            active.update(u for u, at in zip(chunk, seen, strict=True) if at and float(at) >= floor)
        return active
