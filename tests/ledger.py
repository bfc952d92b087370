"""What a consumer group under chaos was given, applied and committed, for its kill tests
(on the embedded log and on Redis): the same bookkeeping and the same verdicts."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import trio

from storage.protocols import Record

Event = tuple[str, int]  # (key, sequence number within the key)


class DeliveryLedger:
    """Events published (``acknowledged``, per key in order), applied (``deliveries``,
    ``first_seen``) and committed (``committed_so_far``, per partition), and what was in
    flight when each kill landed: the events a kill may legitimately deliver once more."""

    def __init__(self) -> None:
        self.acknowledged: dict[str, list[int]] = defaultdict(list)
        self.deliveries: Counter[Event] = Counter()
        self.first_seen: dict[str, list[int]] = defaultdict(list)
        self.committed_so_far: dict[int, int] = defaultdict(int)
        self.redelivered_after_commit: list[Record] = []
        # partition -> offset -> event, delivered and not committed yet
        self.in_flight: dict[int, dict[int, Event]] = defaultdict(dict)
        self.kills_in_flight: Counter[Event] = Counter()

    async def apply(self, records: Sequence[Record]) -> None:
        """The group's handler."""
        for record in records:
            if record.offset < self.committed_so_far[record.partition]:
                self.redelivered_after_commit.append(record)
            event = (record.key, record.value["seq"])
            self.in_flight[record.partition][record.offset] = event
            if event not in self.deliveries:
                self.first_seen[record.key].append(record.value["seq"])
            self.deliveries[event] += 1
            await trio.lowlevel.checkpoint()  # an apply takes time: kills land mid-batch

    def committed(self, partition: int, offset: int) -> None:
        """Everything before ``offset`` in ``partition`` is committed."""
        self.committed_so_far[partition] = max(self.committed_so_far[partition], offset)
        pending = self.in_flight[partition]
        for done in [o for o in pending if o < offset]:
            del pending[done]

    def caught(self, partitions: Iterable[int]) -> None:
        """A kill is about to land on the member reading ``partitions``."""
        for partition in partitions:
            self.kills_in_flight.update(self.in_flight[partition].values())

    async def publish(self, log: Any, topic: str, keys: list[str], count: int) -> None:
        """``count`` events round the ``keys``, each numbered within its key."""
        sequence = dict.fromkeys(keys, 0)
        for n in range(count):
            key = keys[n % len(keys)]
            await log.publish(topic, key, {"seq": sequence[key]})
            self.acknowledged[key].append(sequence[key])
            sequence[key] += 1

    def redelivered(self) -> dict[Event, int]:
        """Per event applied more than once, how many times more."""
        return {event: n - 1 for event, n in self.deliveries.items() if n > 1}

    def assert_all_applied(self, events: int) -> None:
        assert sum(len(seqs) for seqs in self.acknowledged.values()) == events
        assert dict(self.first_seen) == dict(self.acknowledged), (
            "all applied, each key in publish order"
        )
        assert self.redelivered_after_commit == [], "nothing committed is ever delivered again"
        assert all(n <= self.kills_in_flight[e] for e, n in self.redelivered().items()), (
            "an event is delivered again at most once per kill that caught it in flight"
        )
