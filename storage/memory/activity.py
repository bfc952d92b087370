"""Last activity per user, in this process."""

from __future__ import annotations

from collections.abc import Iterable

from storage.timing import timed


@timed
class MemoryActivityStore:
    """An `ActivityStore`: one float per user. A touch within `RESOLUTION` seconds of the
    last one recorded is skipped, so a busy user costs one write a minute, not one per
    request (the 7-day window needs no finer clock)."""

    RESOLUTION = 60.0

    def __init__(self) -> None:
        self._seen: dict[int, float] = {}

    async def touch(self, user_id: int, at: float) -> None:
        if at - self._seen.get(user_id, float("-inf")) >= self.RESOLUTION:
            self._seen[user_id] = at

    async def active_since(self, user_ids: Iterable[int], since: float) -> set[int]:
        seen = self._seen
        # A touch skipped within the resolution was still activity: widen by that much.
        floor = since - self.RESOLUTION
        return {u for u in user_ids if seen.get(u, float("-inf")) >= floor}
