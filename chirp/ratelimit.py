"""GCRA, the generic cell rate algorithm: a token bucket kept as one timestamp per key.
Pure: the stores keep the timestamp, this decides."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds until one more request would be allowed (0 if allowed)
    reset_after: float  # seconds until the bucket is full again


def gcra(tat: float | None, now: float, limit: int, period: float) -> tuple[Decision, float]:
    """Decide one request against ``limit`` per ``period`` seconds, bursts of up to
    ``limit`` allowed. ``tat`` is the key's theoretical arrival time (None: never seen).
    Returns the decision and the new ``tat`` to store (unchanged when refused)."""
    interval = period / limit
    tat = now if tat is None else max(tat, now)
    new_tat = tat + interval
    allowed_at = new_tat - period
    if now < allowed_at:
        remaining_after = tat - now
        return Decision(False, limit, 0, allowed_at - now, remaining_after), tat
    remaining = math.floor((period - (new_tat - now)) / interval + 1e-9)
    return Decision(True, limit, remaining, 0.0, new_tat - now), new_tat
