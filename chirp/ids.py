"""Snowflake ids: time-sortable 64-bit integers, unique across workers without coordination.

Layout (Twitter's): 1 unused sign bit, 41 bits of milliseconds since `CHIRP_EPOCH_MS`,
10 bits of worker id, 12 bits of sequence within the millisecond. Sent as strings in JSON,
since JavaScript numbers lose integers above 2**53.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

#: 2025-01-01T00:00:00Z: 41 bits of milliseconds reach into 2094.
CHIRP_EPOCH_MS = 1_735_689_600_000

TIME_BITS, WORKER_BITS, SEQUENCE_BITS = 41, 10, 12
MAX_WORKER = (1 << WORKER_BITS) - 1
MAX_SEQUENCE = (1 << SEQUENCE_BITS) - 1
MAX_TIME = (1 << TIME_BITS) - 1


class SnowflakeGenerator:
    """Makes ids for one worker; every id is greater than the one before.

    Not thread-safe, and needs no lock under trio: a call never awaits. When the clock
    steps back, or 4,096 ids are taken within one millisecond, it keeps counting on the last
    millisecond it used (borrowing from the future) instead of waiting or repeating an id;
    ids stay within a few milliseconds of the clock.
    """

    def __init__(self, worker_id: int, *, clock_ms: Callable[[], int] | None = None) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be within 0..{MAX_WORKER}, not {worker_id}")
        self.worker_id = worker_id
        self._clock_ms = clock_ms or _wall_clock_ms
        self._last_ms = -1
        self._sequence = 0

    def become(self, worker_id: int) -> None:
        """Make ids as ``worker_id`` from now on (this process's leased id went to
        another). Moves on a millisecond first, so every id stays above the last one."""
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be within 0..{MAX_WORKER}, not {worker_id}")
        self.worker_id = worker_id
        self._last_ms, self._sequence = self._last_ms + 1, -1

    def start_above(self, floor: int) -> None:
        """Make every later id greater than ``floor`` (the highest id a restarted process
        finds in its stores), whatever the clock says: a clock set back, or ids borrowed
        from the future before the restart, would otherwise repeat one."""
        floor_ms = floor >> (WORKER_BITS + SEQUENCE_BITS)
        if floor_ms >= self._last_ms:
            self._last_ms, self._sequence = floor_ms, MAX_SEQUENCE

    def next_id(self) -> int:
        now = self._clock_ms() - CHIRP_EPOCH_MS
        if now > self._last_ms:
            self._last_ms, self._sequence = now, 0
        elif self._sequence < MAX_SEQUENCE:
            self._sequence += 1
        else:
            self._last_ms, self._sequence = self._last_ms + 1, 0
        if not 0 <= self._last_ms <= MAX_TIME:
            raise OverflowError("the clock is outside the Snowflake epoch's 41-bit range")
        return (
            self._last_ms << (WORKER_BITS + SEQUENCE_BITS)
            | self.worker_id << SEQUENCE_BITS
            | self._sequence
        )


def timestamp_ms(snowflake: int) -> int:
    """Milliseconds since the Unix epoch at which ``snowflake`` was made."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + CHIRP_EPOCH_MS


def last_id_at(unix_ms: int) -> int:
    """The greatest id any worker can make in the millisecond ``unix_ms`` (0 before the
    epoch)."""
    ms = min(max(unix_ms - CHIRP_EPOCH_MS, -1), MAX_TIME)
    return (ms + 1 << (WORKER_BITS + SEQUENCE_BITS)) - 1 if ms >= 0 else 0


def created_at(snowflake: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms(snowflake) / 1000, tz=UTC)


def worker_of(snowflake: int) -> int:
    return (snowflake >> SEQUENCE_BITS) & MAX_WORKER


def parse(text: str) -> int:
    """A Snowflake from its JSON string form. Raises `ValueError` for anything that is not
    a positive decimal integer within 63 bits (a forged or mangled id)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise ValueError(f"not a tweet id: {text[:40]!r}")
    value = int(text)
    if not 0 < value < 1 << 63:
        raise ValueError(f"not a tweet id: {text[:40]!r}")
    return value


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000
