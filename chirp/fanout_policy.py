"""The seed's hybrid fan-out: which followers get a tweet pushed into their feed. Pure."""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from datetime import timedelta


class Tier(enum.Enum):
    PUSH_ALL = "push_all"  # every follower's feed
    PUSH_ACTIVE = "push_active"  # only followers active lately; others regenerate on return
    PULL = "pull"  # nobody's: merged into followers' feeds when they read


@dataclass(frozen=True)
class FanoutPolicy:
    """Thresholds from the seed: below 1,000 followers push to all, up to 100,000 push to
    the active, above that pull at read time. The author's own feed always gets the tweet."""

    push_all_below: int = 1_000
    pull_above: int = 100_000
    active_window: timedelta = timedelta(days=7)
    #: Keep pulled authors' recent tweets in the cache (``celeb:{id}``), as the seed does
    #: for its celebrities; pure pull reads the tweet store instead, as that design does.
    cache_pulled: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.push_all_below <= self.pull_above + 1:
            raise ValueError("fan-out thresholds need 0 <= push_all_below <= pull_above + 1")

    @classmethod
    def pure_push(cls, active_window: timedelta = timedelta(days=7)) -> FanoutPolicy:
        """Fan-out on write for everyone, celebrities included (the baseline to beat)."""
        return cls(sys.maxsize, sys.maxsize, active_window)

    @classmethod
    def pure_pull(cls, active_window: timedelta = timedelta(days=7)) -> FanoutPolicy:
        """Fan-out on read for everyone: every author is merged at read time."""
        return cls(0, -1, active_window, cache_pulled=False)

    def tier_for(self, follower_count: int) -> Tier:
        if follower_count < self.push_all_below:
            return Tier.PUSH_ALL
        if follower_count <= self.pull_above:
            return Tier.PUSH_ACTIVE
        return Tier.PULL
