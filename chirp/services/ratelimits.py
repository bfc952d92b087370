"""The gateway's rate limits (the seed's): per IP, per user, and per user for tweets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chirp.ratelimit import Decision
from storage.protocols import RateLimitStore

from .errors import ServiceError

HOUR = 3600.0


@dataclass(frozen=True)
class RateLimits:
    tweets_per_user: int = 100
    calls_per_user: int = 1_000
    requests_per_ip: int = 10_000
    period: float = HOUR


class RateLimited(ServiceError):
    """Answered 429 with ``Retry-After`` and the ``X-RateLimit-*`` headers."""

    def __init__(self, what: str, decision: Decision) -> None:
        super().__init__(f"too many {what}; try again in {decision.retry_after:.0f} s")
        self.decision = decision


class RateLimitService:
    def __init__(
        self,
        store: RateLimitStore,
        limits: RateLimits = RateLimits(),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._limits = limits
        self._clock = clock

    async def request_from(self, ip: str) -> Decision:
        return await self._take(f"ip:{ip}", self._limits.requests_per_ip, "requests")

    async def call_by(self, user_id: int) -> Decision:
        return await self._take(f"user:{user_id}", self._limits.calls_per_user, "calls")

    async def tweet_by(self, user_id: int) -> Decision:
        return await self._take(f"tweets:{user_id}", self._limits.tweets_per_user, "tweets")

    async def _take(self, key: str, limit: int, what: str) -> Decision:
        decision = await self._store.acquire(key, limit, self._limits.period, self._clock())
        if not decision.allowed:
            raise RateLimited(what, decision)
        return decision
