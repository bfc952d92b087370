"""The store protocols every backend implements; the contract tests run against each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol


class Record(NamedTuple):
    """One event as a consumer receives it."""

    topic: str
    partition: int
    offset: int
    key: str
    timestamp: float  # seconds since the epoch, set by the log when it appended the event
    value: Any  # the event, decoded from msgpack


class Fetched(NamedTuple):
    """A fetch's records, in offset order within each partition, and for every partition
    polled its retained start and its end (the offset the next append will get): enough for
    a consumer to know its lag without asking again, as a Kafka fetch response carries the
    log start offset and the high watermark."""

    records: list[Record]
    end_offsets: dict[int, int]
    start_offsets: dict[int, int]


class LogError(Exception):
    """Base of the event log's errors."""


class UnknownTopic(LogError, LookupError):
    """The topic is not configured on this log."""


class LogUnavailable(LogError):
    """The event could not be appended (or the read could not be served) now; nothing was
    acknowledged, so the caller may retry."""


class EventLog(Protocol):
    """A Kafka-style partitioned log.

    Topics have a fixed number of partitions; an event goes to the partition its key hashes
    to (`storage.partitioning.partition_for`), so events of one key keep their order.
    Consumer groups keep one committed offset per partition: the offset of the next event to
    apply. Consumers commit after applying (at-least-once), so a consumer that dies resumes
    at its group's committed offset and only the uncommitted tail is delivered again.
    """

    @property
    def topics(self) -> Mapping[str, int]:
        """Topic name → partition count."""
        ...

    async def publish(self, topic: str, key: str | int, event: Any) -> tuple[int, int]:
        """Append ``event`` (msgpack-serialisable) and return ``(partition, offset)`` once it
        is appended: that return is the acknowledgement. Raises `UnknownTopic`,
        `LogUnavailable` (not appended; safe to retry), `TypeError` (not serialisable)."""
        ...

    async def fetch(
        self,
        topic: str,
        positions: Mapping[int, int],
        *,
        max_records: int = 500,
        timeout: float | None = None,
    ) -> Fetched:
        """Records from each partition in ``positions`` (partition → next offset wanted), at
        most ``max_records`` in all: an equal share each first, then whatever room is left,
        in the order ``positions`` gives (callers rotate it, as Kafka's consumers do, so no
        partition waits behind the others for ever). Waits up to ``timeout`` seconds (None:
        until there are some; 0: not at all) when there are none yet. A position older than
        the partition's retained start reads from that start (retention removed the rest).
        Raises `ValueError` for a partition that does not exist or a position past the end."""
        ...

    async def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        """Record that ``group`` has applied everything before ``offset`` in ``partition``."""
        ...

    async def committed(self, group: str, topic: str, partition: int) -> int:
        """The group's committed offset for ``partition``; 0 if it never committed."""
        ...

    async def end_offsets(self, topic: str) -> list[int]:
        """Per partition, the offset the next appended event will get."""
        ...

    async def lag(self, group: str, topic: str) -> list[int]:
        """Per partition, how many retained events ``group`` has not committed yet."""
        ...
