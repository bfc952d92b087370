"""The seed's hybrid fan-out: which followers get a tweet pushed into their feed. Pure."""

from __future__ import annotations

import enum
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
    batch_size: int = 100  # feed writes per cache-node batch

    def __post_init__(self) -> None:
        if not 0 < self.push_all_below <= self.pull_above:
            raise ValueError("fan-out thresholds need 0 < push_all_below <= pull_above")

    def tier_for(self, follower_count: int) -> Tier:
        if follower_count < self.push_all_below:
            return Tier.PUSH_ALL
        if follower_count <= self.pull_above:
            return Tier.PUSH_ACTIVE
        return Tier.PULL
