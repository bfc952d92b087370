"""The gateway's rate limits (the seed's): per IP, per user, and per user for tweets."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from chirp import model
from chirp.ratelimit import Decision
from storage.protocols import RateLimitStore

from .errors import ServiceError

HOUR = 3600.0


@dataclass(frozen=True)
class RateLimits:
    tweets_per_user: int = 100
    calls_per_user: int = 1_000
    requests_per_ip: int = 10_000
    #: Password attempts on one account, right or wrong: a guesser gets this many an hour
    #: whatever addresses they spread them over.
    logins_per_account: int = 10
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

    async def login_as(self, username: str) -> None:
        """Count a password attempt on ``username``'s account, before the password is
        checked. Names that exist and names that do not are counted alike, so a 429 does
        not tell which is which; a name no account can have (`chirp.model.is_username`)
        puts no account at risk and is not counted. Raises `RateLimited`."""
        if model.is_username(username):
            await self._take(
                f"logins:{username.casefold()}",
                self._limits.logins_per_account,
                "sign-in attempts on this account",
            )

    async def _take(self, key: str, limit: int, what: str) -> Decision:
        decision = await self._store.acquire(key, limit, self._limits.period, self._clock())
        if not decision.allowed:
            raise RateLimited(what, decision)
        return decision
