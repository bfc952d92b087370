"""A consumer group's member on the log: it takes its partitions over, re-reads what was
pending there, then reads new entries, acknowledging (XACK) what it commits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import trio

from storage.protocols import Record

from .leases import PartitionLeases, lease_key
from .stream_entries import _records
from .stream_requests import _request, _served
from .streams_lua import ACK, READ_GROUP, TAKEOVER

if TYPE_CHECKING:
    from .eventlog import RedisEventLog


class _Partition:
    """A member's state for one partition it owns."""

    __slots__ = ("claimed", "cursor", "end", "behind")

    def __init__(self) -> None:
        self.claimed = False  # the group's pending entries here are this consumer's
        self.cursor: bytes | None = b"0-0"  # re-reading its pending entries after this id
        self.end = 0
        self.behind = 0


class RedisGroupMember:
    """A `GroupMember` on a Redis consumer group, made by `RedisEventLog.join`.

    A partition it comes to own is first taken over (TAKEOVER: the group's pending entries
    there become this consumer's, XAUTOCLAIM), then its pending entries are read again from
    the oldest (XREADGROUP from id 0) and only then new ones (XREADGROUP ``>``): whatever the
    last holder, or this member's last incarnation, read and did not commit is applied again
    before anything newer. Reads and acknowledgements check the lease in the same script,
    so a process that lost it can neither read nor commit.
    """

    def __init__(
        self,
        log: RedisEventLog,
        *,
        group: str,
        topic: str,
        partitions: Sequence[int],
        consumer: str,
        leases: PartitionLeases | None,
        claim_idle: float,
        retry_after: float,
    ) -> None:
        self._log = log
        self._client = log._client
        self._group = group
        self._topic = topic
        self._partitions = list(partitions)
        self._consumer = consumer
        self._leases = leases
        self._token = leases.token if leases is not None else ""
        self._claim_idle_ms = round(claim_idle * 1000)
        self._retry_after = max(min(claim_idle, retry_after) / 2, 0.01)
        self._states: dict[int, _Partition] = {}
        self._order: list[int] = []  # owned partitions, least recently served first

    @property
    def consumer(self) -> str:
        return self._consumer

    @property
    def owned(self) -> frozenset[int]:
        if self._leases is None:
            return frozenset(self._partitions)
        return frozenset(self._leases.held)

    @property
    def lag(self) -> int:
        return sum(state.behind for state in self._states.values())

    async def poll(self, *, max_records: int = 500) -> list[Record]:
        while True:
            await self._give_back()
            self._adopt()
            claims_waiting = await self._claim()
            readable = [p for p in self._order if self._states[p].claimed][:max_records]
            if readable:
                recovering = any(self._states[p].cursor is not None for p in readable)
                records = await self._read(readable, max_records)
                if records:
                    # A kill that came while the read was in flight lands now, before
                    # anything is applied: the records wait in the group's pending list.
                    await trio.lowlevel.checkpoint_if_cancelled()
                    return records
                if recovering:
                    continue  # pending entries all re-read: on to the new ones at once
            await self._wait(readable, claims_waiting)

    async def commit(self, records: Sequence[Record]) -> None:
        acked: dict[int, list[str]] = {}
        for record in records:
            acked.setdefault(record.partition, []).append(f"0-{record.offset + 1}")
        if acked:
            log, group, token = self._log, self._group, self._token
            with _request(f"{self._consumer} committing"):
                async with self._client.pipeline(transaction=False, raise_on_error=False) as pipe:
                    acks = [
                        pipe.eval(
                            ACK,
                            keys=[log.stream_key(self._topic, p), self._lease_key(p)],
                            args=[group, token, *ids],
                        )
                        for p, ids in acked.items()
                    ]
                for ack in acks:
                    await ack
        for partition, ids in acked.items():
            state = self._states.get(partition)
            if state is not None:
                state.behind = max(state.behind - len(ids), 0)
        # The partitions just served go to the back, so the others come first next time.
        self._order = [p for p in self._order if p not in acked] + [
            p for p in self._order if p in acked
        ]

    async def leave(self) -> None:
        if self._leases is not None:
            with _served(f"{self._consumer} handing its partitions back"):
                await self._leases.leave()

    def _lease_key(self, partition: int) -> str:
        # Without leases the scripts get no token and never look at the key.
        return lease_key(self._log._prefix, self._group, self._topic, partition)

    async def _give_back(self) -> None:
        """Between batches, release the leases the keeper found surplus."""
        if self._leases is not None and self._leases.surplus:
            with _served(f"{self._consumer} releasing partitions"):
                await self._leases.release(sorted(self._leases.surplus))

    def _adopt(self) -> None:
        """Follow the leases: forget partitions given up, start on ones taken."""
        owned = self.owned
        if owned == self._states.keys():
            return
        for partition in [p for p in self._states if p not in owned]:
            del self._states[partition]
        self._order = [p for p in self._order if p in owned]
        for partition in sorted(owned - self._states.keys()):
            self._states[partition] = _Partition()
            self._order.append(partition)

    async def _claim(self) -> bool:
        """Take over the partitions not claimed yet; True if some must wait for entries
        another consumer holds to be idle long enough."""
        unclaimed = [p for p in self._order if not self._states[p].claimed]
        if not unclaimed:
            return False
        log, group = self._log, self._group
        with _request(f"{self._consumer} taking partitions over"):
            async with self._client.pipeline(transaction=False, raise_on_error=False) as pipe:
                claims = [
                    pipe.eval(
                        TAKEOVER,
                        keys=[log.stream_key(self._topic, p), self._lease_key(p)],
                        args=[group, self._consumer, self._token, self._claim_idle_ms],
                    )
                    for p in unclaimed
                ]
            waiting = False
            for partition, claim in zip(unclaimed, claims, strict=True):
                if int(await claim) == 0:
                    self._states[partition].claimed = True
                else:
                    waiting = True
        return waiting

    async def _read(self, readable: Sequence[int], max_records: int) -> list[Record]:
        share = max(max_records // len(readable), 1)
        recovering = {p for p in readable if self._states[p].cursor is not None}
        batches = await self._read_group(readable, share)
        # Those that had nothing pending after all take their turn with new entries.
        fresh = [p for p in recovering if not batches[p] and self._states[p].cursor is None]
        if fresh:
            batches.update(await self._read_group(fresh, share))
        room = max_records - sum(len(records) for records in batches.values())
        for partition in readable:
            if room <= 0:
                break
            if len(batches[partition]) == share:
                more = (await self._read_group([partition], room))[partition]
                batches[partition].extend(more)
                room -= len(more)
        for partition, records in batches.items():
            state = self._states[partition]
            state.behind = state.end - records[0].offset if records else 0
        return [record for records in batches.values() for record in records]

    async def _read_group(self, partitions: Sequence[int], count: int) -> dict[int, list[Record]]:
        log, topic, group = self._log, self._topic, self._group
        with _request(f"{self._consumer} reading"):
            async with self._client.pipeline(transaction=False, raise_on_error=False) as pipe:
                reads = [
                    pipe.eval(
                        READ_GROUP,
                        keys=[log.stream_key(topic, p), self._lease_key(p)],
                        args=[
                            group,
                            self._consumer,
                            self._states[p].cursor or b">",
                            count,
                            self._token,
                        ],
                    )
                    for p in partitions
                ]
            replies = [await read for read in reads]
        batches: dict[int, list[Record]] = {}
        for partition, reply in zip(partitions, replies, strict=True):
            state = self._states[partition]
            state.end = int(reply[1])
            log._seen(log.stream_key(topic, partition), state.end)
            rows = reply[3:]
            batches[partition] = _records(topic, partition, rows)
            if state.cursor is not None:
                if int(reply[2]) < count:
                    state.cursor = None  # every pending entry is in hand: new ones next
                elif rows:
                    state.cursor = rows[-4]
        return batches

    async def _wait(self, readable: Sequence[int], claims_waiting: bool) -> None:
        """Until a readable partition grows, the leases change, or (with claims waiting for
        idle time) a little while."""
        wake = trio.Event()
        ends = {self._log.stream_key(self._topic, p): self._states[p].end for p in readable}
        watch = self._log._watch
        if self._leases is not None:
            self._leases.waiters.add(wake)
        try:
            if watch.add(wake, ends):
                with _request("waking the log's watcher"):
                    await watch.ring()
            with trio.move_on_after(self._retry_after if claims_waiting else math.inf):
                await wake.wait()
        finally:
            watch.discard(wake, ends)
            if self._leases is not None:
                self._leases.waiters.discard(wake)
