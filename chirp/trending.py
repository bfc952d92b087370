"""How a hashtag's trending score is computed. Pure: the trending tables call it.

The seed's formula, with each term defined here:

    score = mentions × 1000 + velocity × 500 − age_hours × 10

- ``mentions``: distinct authors who used the tag in the current window, the last
  ``window`` seconds. One author repeating a tag counts once, so nobody pumps it alone.
- ``velocity``: the rise over the window before (``window`` to ``2 × window`` ago): current
  distinct authors minus previous distinct authors. Negative when a tag cools.
- ``age_hours``: hours since the tag entered its table: the moment its ``min_authors``-th
  distinct author used it, so the age depends on the uses alone, not on when the table
  happened to be rescored.

A tag is scored only while at least ``min_authors`` distinct authors used it in the current
window; the tables rescore every minute, so a tag nobody uses any more decays out as its
window empties, and a tag at or below zero leaves the table (and its age starts over).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chirp.model import Trend


@dataclass(frozen=True)
class TrendRules:
    window: float = 600.0  # seconds
    min_authors: int = 3
    mention_weight: float = 1000.0
    velocity_weight: float = 500.0
    age_weight: float = 10.0  # per hour in the table

    def __post_init__(self) -> None:
        if self.window <= 0 or self.min_authors < 1:
            raise ValueError("trending needs a positive window and at least one author")


def score(
    hashtag: str,
    uses: Iterable[tuple[int, float]],
    *,
    now: float,
    entered_at: float | None,
    rules: TrendRules,
) -> Trend | None:
    """The tag's trend from its ``(author_id, at)`` uses, or None when it is not trending."""
    current: dict[int, float] = {}  # author -> their first use in the window
    previous: set[int] = set()
    tweets = 0
    for author_id, at in uses:
        if now - rules.window < at <= now:
            current[author_id] = min(at, current.get(author_id, at))
            tweets += 1
        elif now - 2 * rules.window < at <= now - rules.window:
            previous.add(author_id)
    if len(current) < rules.min_authors:
        return None
    if entered_at is None:
        entered_at = sorted(current.values())[rules.min_authors - 1]
    entered = entered_at
    value = (
        len(current) * rules.mention_weight
        + (len(current) - len(previous)) * rules.velocity_weight
        - (now - entered) / 3600 * rules.age_weight
    )
    return Trend(hashtag, value, tweets, entered) if value > 0 else None
