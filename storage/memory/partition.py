"""One partition of the embedded log: its retained records, and the actor that appends."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from actors import Actor


@dataclass(frozen=True)
class Retention:
    """How long and how much a partition keeps (Kafka's ``retention.ms`` and
    ``retention.bytes``, per partition). Whole segments go, oldest first."""

    max_age: float = 7 * 24 * 3600.0
    max_bytes: int | None = 32 * 1024 * 1024
    check_interval: float = 300.0  # as Kafka's log.retention.check.interval.ms
    segment_records: int = 4096

    def __post_init__(self) -> None:
        if self.max_age <= 0 or self.check_interval <= 0 or self.segment_records < 1:
            raise ValueError("retention needs a positive max_age, check_interval, segment_records")
        if self.max_bytes is not None and self.max_bytes < 1:
            raise ValueError("retention max_bytes must be positive, or None for no limit")

    @property
    def segment_bytes(self) -> float:
        """A segment also rolls at an eighth of ``max_bytes``, so dropping whole segments
        keeps a partition within its size limit give or take one segment."""
        return self.max_bytes / 8 if self.max_bytes is not None else float("inf")


class _Segment:
    """Consecutive records from ``base``: parallel lists, cheaper than an object each."""

    __slots__ = ("base", "keys", "payloads", "timestamps", "size")

    def __init__(self, base: int) -> None:
        self.base = base
        self.keys: list[str] = []
        self.payloads: list[bytes] = []
        self.timestamps: list[float] = []
        self.size = 0


#: Told of each change to a partition, as it is made: the method of `MemoryEventLog` that
#: replays it and its arguments; answers the change's journal seq (storage.durable).
ChangeHook = Callable[[str, list[Any]], int]


class PartitionLog:
    """The records a partition retains: what its disk would hold. It outlives the partition
    actor, so killing the actor loses nothing already appended.

    Readers may read at any time; only the partition actor appends, so appends stay in one
    order. Readers waiting for new records register a `trio.Event` in ``waiters``.

    With ``on_change`` set, every append and every trim is reported to it, synchronously,
    as it is made (the durable mode journals them); ``last_seq`` is what it answered for
    the latest append.
    """

    def __init__(self, topic: str, partition: int, retention: Retention) -> None:
        self.topic = topic
        self.partition = partition
        self.retention = retention
        self._segments: list[_Segment] = [_Segment(0)]
        self._bases: list[int] = [0]
        self.end_offset = 0
        self.size = 0
        self.waiters: set[trio.Event] = set()
        self.on_change: ChangeHook | None = None
        self.last_seq = 0

    @property
    def start_offset(self) -> int:
        return self._segments[0].base

    def append(self, key: str, payload: bytes, timestamp: float) -> int:
        segment = self._segments[-1]
        if segment.keys and (
            len(segment.keys) >= self.retention.segment_records
            or segment.size >= self.retention.segment_bytes
        ):
            segment = _Segment(self.end_offset)
            self._segments.append(segment)
            self._bases.append(segment.base)
        segment.keys.append(key)
        segment.payloads.append(payload)
        segment.timestamps.append(timestamp)
        cost = len(payload) + len(key)
        segment.size += cost
        self.size += cost
        offset = self.end_offset
        self.end_offset += 1
        if self.on_change is not None:
            self.last_seq = self.on_change(
                "append_at", [self.topic, self.partition, key, payload, timestamp]
            )
        if self.waiters:
            for event in self.waiters:
                event.set()
            self.waiters.clear()
        return offset

    def read(self, offset: int, limit: int) -> list[tuple[int, str, float, bytes]]:
        """Up to ``limit`` records from ``offset`` (or from the start, if retention removed
        ``offset``), as (offset, key, timestamp, payload)."""
        offset = max(offset, self.start_offset)
        end = min(self.end_offset, offset + limit)
        out: list[tuple[int, str, float, bytes]] = []
        index = bisect_right(self._bases, offset) - 1
        while offset < end:
            segment = self._segments[index]
            first, last = offset - segment.base, min(len(segment.keys), end - segment.base)
            out.extend(
                zip(
                    range(offset, segment.base + last),
                    segment.keys[first:last],
                    segment.timestamps[first:last],
                    segment.payloads[first:last],
                    strict=True,
                )
            )
            offset = segment.base + last
            index += 1
        return out

    def enforce_retention(self, now: float) -> int:
        """Drop whole segments past the age or size limit; return how many records went.
        The newest segment goes by age too (a partition idle for a week keeps nothing)."""
        dropped = 0
        cutoff = now - self.retention.max_age
        limit = self.retention.max_bytes
        while self._segments[0].keys:
            oldest = self._segments[0]
            too_old = oldest.timestamps[-1] < cutoff
            too_big = limit is not None and self.size > limit and len(self._segments) > 1
            if not (too_old or too_big):
                break
            dropped += len(oldest.keys)
            self.size -= oldest.size
            del self._segments[0]
            del self._bases[0]
            if not self._segments:
                self._segments.append(_Segment(self.end_offset))
                self._bases.append(self.end_offset)
        if dropped and self.on_change is not None:
            self.on_change("trim_at", [self.topic, self.partition, self.start_offset])
        return dropped

    def trim_to(self, start: int) -> None:
        """Drop every record below offset ``start`` (at most `end_offset`), as retention
        did: how a journaled trim is replayed."""
        start = min(start, self.end_offset)
        while self._segments[0].base < start:
            oldest = self._segments[0]
            cut = min(start - oldest.base, len(oldest.keys))
            if cut == len(oldest.keys) and len(self._segments) > 1:
                self.size -= oldest.size
                del self._segments[0]
                del self._bases[0]
                continue
            # Where the trim falls inside a segment (one the retention rules cut differently
            # when the journal was written), or empties the newest: keep the rest of it.
            rest = _Segment(oldest.base + cut)
            rest.keys, rest.timestamps = oldest.keys[cut:], oldest.timestamps[cut:]
            rest.payloads = oldest.payloads[cut:]
            rest.size = sum(map(len, rest.keys)) + sum(map(len, rest.payloads))
            self.size -= oldest.size - rest.size
            self._segments[0], self._bases[0] = rest, rest.base

    def snapshot_state(self) -> list[Any]:
        """``[end_offset, [[base, keys, timestamps, payloads], …]]``: the retained records by
        segment. Every segment but the newest is never written again, so only the newest is
        copied."""
        *sealed, newest = self._segments
        segments = [[s.base, s.keys, s.timestamps, s.payloads] for s in sealed]
        segments.append(
            [newest.base, list(newest.keys), list(newest.timestamps), list(newest.payloads)]
        )
        return [self.end_offset, segments]

    def restore_state(self, state: list[Any]) -> None:
        """Load what `snapshot_state` gave into this partition, which holds nothing yet."""
        self.end_offset, held = state
        self._segments, self._bases, self.size = [], [], 0
        for base, keys, timestamps, payloads in held:
            segment = _Segment(base)
            segment.keys, segment.timestamps, segment.payloads = keys, timestamps, payloads
            segment.size = sum(map(len, keys)) + sum(map(len, payloads))
            self._segments.append(segment)
            self._bases.append(base)
            self.size += segment.size

    @property
    def newest_timestamp(self) -> float:
        """When the newest record retained was appended (0.0 if none is)."""
        newest = self._segments[-1]
        return newest.timestamps[-1] if newest.timestamps else 0.0


ENFORCE_RETENTION = "enforce-retention"


class PartitionActor(Actor):
    """The partition's leader: the one writer of its `PartitionLog`. An ``ask((key,
    payload))`` appends and answers the offset; `ENFORCE_RETENTION` trims old segments."""

    def __init__(self, log: PartitionLog, clock: Callable[[], float]) -> None:
        self._log = log
        self._clock = clock

    async def receive(self, message: Any) -> int | None:
        if message == ENFORCE_RETENTION:
            self._log.enforce_retention(self._clock())
            return None
        key, payload = message
        offset = self._log.append(key, payload, self._clock())
        if (
            self._log.retention.max_bytes is not None
            and self._log.size > self._log.retention.max_bytes
        ):
            self._log.enforce_retention(self._clock())
        return offset

    def describe(self) -> dict[str, Any]:
        log = self._log
        return {
            "topic": log.topic,
            "partition": log.partition,
            "start_offset": log.start_offset,
            "end_offset": log.end_offset,
            "bytes": log.size,
        }
