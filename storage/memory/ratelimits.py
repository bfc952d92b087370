"""Rate-limit buckets, in this process."""

from __future__ import annotations

from chirp.ratelimit import Decision, gcra
from storage.timing import timed


@timed
class MemoryRateLimitStore:
    """A `RateLimitStore`: one theoretical arrival time per key. Keys whose bucket is full
    again carry no information, so they are swept out now and then to bound memory."""

    SWEEP_EVERY = 10_000

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._since_sweep = 0

    async def acquire(self, key: str, limit: int, period: float, now: float) -> Decision:
        decision, self._tats[key] = gcra(self._tats.get(key), now, limit, period)
        self._since_sweep += 1
        if self._since_sweep >= self.SWEEP_EVERY:
            self._since_sweep = 0
            self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
        return decision
