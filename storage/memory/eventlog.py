"""The embedded event log: Kafka's topology played by partition actors in this process."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import msgpack
import trio

from actors import (
    ActorRef,
    ActorSpec,
    ActorSystem,
    AskFailed,
    SupervisorSpec,
    Ticker,
)
from storage.partitioning import partition_for
from storage.protocols import Fetched, LogUnavailable, Record, UnknownTopic

from .partition import ENFORCE_RETENTION, ChangeHook, PartitionActor, PartitionLog, Retention


class MemoryEventLog:
    """An `EventLog` whose partitions are actors.

    Each partition has a `PartitionLog` (the records, which outlive any actor) and a
    `PartitionActor` (its one writer): publishing asks that actor to append, so appends to a
    partition are ordered, and a killed partition actor fails only the appends in flight,
    which were never acknowledged. Committed offsets live here, beside the partitions, as
    Kafka keeps them in ``__consumer_offsets`` rather than in its consumers.

    Build the actors with `supervisor_spec`, then `attach` the system built from it before
    publishing. `journal_to` makes it durable.
    """

    def __init__(
        self,
        topics: Mapping[str, int],
        *,
        retention: Retention = Retention(),
        clock: Callable[[], float] = time.time,
        name: str = "log",
        mailbox_size: int = 1024,
        publish_timeout: float = 5.0,
    ) -> None:
        self._name = name
        self._topics = dict(topics)
        self._retention = retention
        self._clock = clock
        self._mailbox_size = mailbox_size
        self._publish_timeout = publish_timeout
        self._partitions = {
            topic: [PartitionLog(topic, p, retention) for p in range(count)]
            for topic, count in self._topics.items()
        }
        self._refs: dict[str, list[ActorRef]] = {}
        self._committed: dict[tuple[str, str, int], int] = {}
        self._pack = msgpack.Packer().pack
        self._record: ChangeHook | None = None
        self._durable: Callable[[int], Awaitable[None]] | None = None

    @property
    def topics(self) -> Mapping[str, int]:
        return self._topics

    def partition_name(self, topic: str, partition: int) -> str:
        return f"{self._name}.{topic}.{partition}"

    def supervisor_spec(self, *, max_restarts: int = 100, within: float = 10.0) -> SupervisorSpec:
        """The ``log`` subtree: one actor per partition of every topic, and the retention
        ticker. One-for-one: partitions are independent, as Kafka's are."""
        children: list[ActorSpec] = [
            ActorSpec(
                self.partition_name(topic, p),
                partial(PartitionActor, log, self._clock),
                mailbox_size=self._mailbox_size,
            )
            for topic, logs in self._partitions.items()
            for p, log in enumerate(logs)
        ]
        children.append(
            ActorSpec(
                f"{self._name}.retention",
                lambda: Ticker(
                    lambda: [ref for refs in self._refs.values() for ref in refs],
                    ENFORCE_RETENTION,
                    self._retention.check_interval,
                ),
            )
        )
        return SupervisorSpec(self._name, children, max_restarts=max_restarts, within=within)

    def attach(self, system: ActorSystem) -> None:
        """Find the partition actors in ``system`` (built from `supervisor_spec`)."""
        self._refs = {
            topic: [system.ref(self.partition_name(topic, p)) for p in range(count)]
            for topic, count in self._topics.items()
        }

    async def publish(self, topic: str, key: str | int, event: Any) -> tuple[int, int]:
        refs = self._refs.get(topic)
        if refs is None:
            self._logs(topic)  # raises UnknownTopic
            raise RuntimeError("attach() the actor system before publishing")
        partition = partition_for(key, len(refs))
        payload = self._pack(event)
        try:
            offset = await refs[partition].ask((str(key), payload), timeout=self._publish_timeout)
        except AskFailed as exc:
            raise LogUnavailable(f"{topic}[{partition}] did not acknowledge: {exc}") from exc
        if self._durable is not None:
            # Journaled as it was appended; appended since, perhaps, but never before.
            await self._durable(self._partitions[topic][partition].last_seq)
        return partition, offset

    async def fetch(
        self,
        topic: str,
        positions: Mapping[int, int],
        *,
        max_records: int = 500,
        timeout: float | None = None,
    ) -> Fetched:
        logs = self._logs(topic)
        for partition, offset in positions.items():
            self._partition(topic, logs, partition)
            if offset > logs[partition].end_offset:
                raise ValueError(f"offset {offset} is past the end of {topic}[{partition}]")
        await trio.lowlevel.checkpoint()
        fetched = self._read(topic, logs, positions, max_records)
        if fetched.records or timeout == 0 or not positions:
            return fetched
        wake = trio.Event()
        for partition in positions:
            logs[partition].waiters.add(wake)
        try:
            with trio.move_on_after(math.inf if timeout is None else timeout):
                await wake.wait()
        finally:
            for partition in positions:
                logs[partition].waiters.discard(wake)
        return self._read(topic, logs, positions, max_records)

    async def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        log = self._partition(topic, self._logs(topic), partition)
        if not 0 <= offset <= log.end_offset:
            raise ValueError(
                f"offset {offset} is outside {topic}[{partition}] (0..{log.end_offset})"
            )
        self._committed[(group, topic, partition)] = offset
        if self._record is not None and self._durable is not None:
            await self._durable(self._record("commit_at", [group, topic, partition, offset]))

    async def committed(self, group: str, topic: str, partition: int) -> int:
        self._partition(topic, self._logs(topic), partition)
        return self._committed.get((group, topic, partition), 0)

    async def end_offsets(self, topic: str) -> list[int]:
        return [log.end_offset for log in self._logs(topic)]

    async def lag(self, group: str, topic: str) -> list[int]:
        return [
            log.end_offset - max(self._committed.get((group, topic, p), 0), log.start_offset)
            for p, log in enumerate(self._logs(topic))
        ]

    @asynccontextmanager
    async def join(
        self, group: str, topic: str, partitions: Sequence[int], *, member: str
    ) -> AsyncIterator[OffsetMember]:
        """A member reading ``partitions`` outright: one process holds the whole log, so
        there is nothing to share them with."""
        logs = self._logs(topic)
        for partition in partitions:
            self._partition(topic, logs, partition)
        reader = OffsetMember(self, group, topic, partitions)
        await reader.start()
        yield reader

    def journal_to(self, record: ChangeHook, durable: Callable[[int], Awaitable[None]]) -> None:
        """Make the log durable: from now on every append, retention trim and commit is
        reported to ``record`` as it is made (as the name of the ``*_at`` method that
        replays it and its arguments; it answers a journal seq), and `publish` and `commit`
        return only once ``durable`` of that seq has."""
        self._record, self._durable = record, durable
        for logs in self._partitions.values():
            for log in logs:
                log.on_change = record

    def append_at(
        self, topic: str, partition: int, key: str, payload: bytes, timestamp: float
    ) -> None:
        """Replay an append, as journaled."""
        self._partitions[topic][partition].append(key, payload, timestamp)

    def trim_at(self, topic: str, partition: int, start: int) -> None:
        """Replay a retention trim, as journaled."""
        self._partitions[topic][partition].trim_to(start)

    def commit_at(self, group: str, topic: str, partition: int, offset: int) -> None:
        """Replay a commit, as journaled."""
        self._committed[(group, topic, partition)] = offset

    def snapshot_state(self) -> dict[str, Any]:
        """Every partition's retained records (`PartitionLog.snapshot_state`) and the
        committed offsets, in containers nothing else changes."""
        return {
            "partitions": {
                topic: [log.snapshot_state() for log in logs]
                for topic, logs in self._partitions.items()
            },
            "committed": [[*key, offset] for key, offset in self._committed.items()],
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this log, which holds nothing yet. Raises
        `ValueError` if the topics or their partition counts differ from this log's: the
        records are placed by key, so a changed count would misplace every one."""
        counts = {topic: len(held) for topic, held in state["partitions"].items()}
        if counts != self._topics:
            raise ValueError(
                f"the saved log has the partitions {counts}, but chirp is configured with "
                f"{dict(self._topics)}: start it with the partitions it was written with"
            )
        for topic, held in state["partitions"].items():
            for log, partition in zip(self._partitions[topic], held, strict=True):
                log.restore_state(partition)
        self._committed = {(g, t, p): offset for g, t, p, offset in state["committed"]}

    def newest_timestamp(self) -> float:
        """When the newest record retained by any partition was appended (0.0 if none)."""
        return max(
            (log.newest_timestamp for logs in self._partitions.values() for log in logs),
            default=0.0,
        )

    def _logs(self, topic: str) -> list[PartitionLog]:
        try:
            return self._partitions[topic]
        except KeyError:
            raise UnknownTopic(topic) from None

    @staticmethod
    def _partition(topic: str, logs: list[PartitionLog], partition: int) -> PartitionLog:
        if not 0 <= partition < len(logs):
            raise ValueError(f"{topic} has partitions 0..{len(logs) - 1}, not {partition}")
        return logs[partition]

    @staticmethod
    def _read(
        topic: str, logs: list[PartitionLog], positions: Mapping[int, int], max_records: int
    ) -> Fetched:
        # A fair share per partition first, then whatever room is left, so one busy
        # partition cannot starve the others a consumer owns.
        share = max(max_records // max(len(positions), 1), 1)
        rows: dict[int, list[tuple[int, str, float, bytes]]] = {}
        room = max_records
        for partition, offset in positions.items():
            log = logs[partition]
            if offset < log.end_offset:  # most polled partitions have nothing new
                rows[partition] = log.read(offset, min(share, room))
                room -= len(rows[partition])
        for partition, taken in rows.items():
            if room <= 0:
                break
            if len(taken) == share:
                more = logs[partition].read(taken[-1][0] + 1, room)
                taken.extend(more)
                room -= len(more)
        unpack = _unpack
        records = [
            Record(topic, partition, offset, key, timestamp, unpack(payload))
            for partition, taken in rows.items()
            for offset, key, timestamp, payload in taken
        ]
        ends = {partition: logs[partition].end_offset for partition in positions}
        starts = {partition: logs[partition].start_offset for partition in positions}
        return Fetched(records, ends, starts)


_unpack = partial(msgpack.unpackb, strict_map_key=False)


class OffsetMember:
    """A `GroupMember` over ``fetch`` and ``commit``: positions start at the group's
    committed offsets and move past each committed batch. Served partitions go to the back
    of the order, so when one fetch cannot hold them all, the others come first next time.
    It calls the log's ``commit`` afresh each time (tests wrap it to watch commits)."""

    def __init__(
        self, log: MemoryEventLog, group: str, topic: str, partitions: Sequence[int]
    ) -> None:
        self._log = log
        self._group = group
        self._topic = topic
        self._partitions = list(partitions)
        self._positions: dict[int, int] = {}
        self._lag = 0

    @property
    def owned(self) -> frozenset[int]:
        return frozenset(self._partitions)

    @property
    def lag(self) -> int:
        return self._lag

    async def start(self) -> None:
        log, group, topic = self._log, self._group, self._topic
        for partition in self._partitions:
            self._positions[partition] = await log.committed(group, topic, partition)
        lag = await log.lag(group, topic)
        self._lag = sum(lag[p] for p in self._partitions)

    async def poll(self, *, max_records: int = 500) -> list[Record]:
        positions = self._positions
        records, end_offsets, start_offsets = await self._log.fetch(
            self._topic, positions, max_records=max_records
        )
        # Counted before applying: a consumer stuck on a batch shows what waits behind it.
        self._lag = sum(end_offsets[p] - max(positions[p], start_offsets[p]) for p in end_offsets)
        return records

    async def commit(self, records: Sequence[Record]) -> None:
        advanced: dict[int, int] = {}
        for record in records:
            advanced[record.partition] = record.offset + 1
        for partition, offset in advanced.items():
            await self._log.commit(self._group, self._topic, partition, offset)
        waiting = {p: o for p, o in self._positions.items() if p not in advanced}
        self._positions = waiting | advanced
        self._lag -= len(records)

    async def leave(self) -> None:
        await trio.lowlevel.checkpoint()
