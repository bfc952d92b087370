"""The event log on Redis Streams: one stream per topic partition, consumer groups with
XREADGROUP / XACK, pending entries claimed (XAUTOCLAIM) from consumers that died, and
trimming that never drops what a group has not applied.

Offsets are plain integers, as the `EventLog` protocol has them: events are appended with
``XADD key 0-*`` (Redis ≥ 7 numbers entries under an explicit millisecond part of 0), so
the entry of offset ``n`` has the id ``0-{n + 1}`` and reading from an offset is exact.
Each entry holds the event's key (``k``), its append time (``t``, seconds since the epoch)
and the msgpack bytes (``v``).

A group's committed offset is its oldest pending entry (delivered, not acknowledged) or,
with none pending, everything delivered so far: `commit` acknowledges and moves the group's
last-delivered id, and `GroupMember.commit` acknowledges (XACK) what a batch read.

Keys carry a hash tag per partition (``{topic:partition}``), shared by the partition's
leases, so every script touches one slot. Reading several partitions at once (the blocking
XREADs) assumes one node, as `storage.redis.client.open_redis` gives.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import msgpack
import trio

from actors import ActorSpec, SupervisorSpec
from storage.partitioning import partition_for
from storage.protocols import Fetched, LogUnavailable, Record, UnknownTopic

from .client import REPLY_TIMEOUT
from .group_member import RedisGroupMember as RedisGroupMember
from .leases import LeaseTerms, PartitionLeases, uncancelled
from .stream_entries import _offset, _records
from .stream_requests import _request, _served
from .stream_retention import StreamRetention as StreamRetention
from .stream_retention import _Trimmer
from .stream_watch import WATCH_BLOCK_MS as WATCH_BLOCK_MS
from .stream_watch import _Watch, _Watcher

# The scripts are looked up here when called (tests swap one out on this module); the rest
# are re-exported so everything the log defines stays importable from here.
from .streams_lua import ACK as ACK
from .streams_lua import COMMIT, DROP_GROUP, POSITION, READ_RANGE, TRIM
from .streams_lua import READ_GROUP as READ_GROUP
from .streams_lua import TAKEOVER as TAKEOVER


def default_process_token() -> str:
    """This process among those sharing the log: host, pid, and a random part (a restarted
    process reusing a pid, as in containers, is a new process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RedisEventLog:
    """An `EventLog` on Redis Streams, shared by every chirp process pointed at the server.

    ``client`` is a coredis client (`storage.redis.client.open_redis`); ``prefix`` starts
    every key. ``leases`` shares each group's partitions out between processes (None: this
    process reads every partition its members are given, as the embedded log does).
    ``process`` names this process in leases and consumer names (a fresh one by default).
    A request to Redis is not cut short by cancelling its caller (see `uncancelled`); the
    client's reply timeout bounds it (then `LogUnavailable`).

    Run the actors of `supervisor_spec` while the log is in use: a watcher wakes members
    waiting for new entries (one blocking XREAD for the whole process, not a connection per
    waiting member), and a ticker trims the streams.
    """

    def __init__(
        self,
        client: Any,
        topics: Mapping[str, int],
        *,
        prefix: str = "",
        retention: StreamRetention = StreamRetention(),
        leases: LeaseTerms | None = LeaseTerms(),
        process: str | None = None,
        clock: Callable[[], float] = time.time,
        name: str = "log",
    ) -> None:
        self._client = client
        self._topics = dict(topics)
        self._prefix = prefix
        self._retention = retention
        self._lease_terms = leases
        self._process = process or default_process_token()
        self._clock = clock
        self._name = name
        self._pack = msgpack.Packer().pack
        # The highest end seen per stream: a fetch from a position within it needs no check.
        self._ends: dict[str, int] = {}
        self._watch = _Watch(client, f"{prefix}doorbell:{self._process}", self._ends)

    @property
    def topics(self) -> Mapping[str, int]:
        return self._topics

    @property
    def process(self) -> str:
        return self._process

    def stream_key(self, topic: str, partition: int) -> str:
        return f"{self._prefix}log:{{{topic}:{partition}}}"

    def supervisor_spec(self, *, max_restarts: int = 100, within: float = 10.0) -> SupervisorSpec:
        """The ``log`` subtree: the watcher that wakes waiting members, and retention."""
        interval = self._retention.check_interval
        return SupervisorSpec(
            self._name,
            [
                ActorSpec(f"{self._name}.watch", lambda: _Watcher(self._watch)),
                ActorSpec(f"{self._name}.retention", lambda: _Trimmer(self, interval)),
            ],
            max_restarts=max_restarts,
            within=within,
        )

    async def prepare(self) -> None:
        """Check the server can hold this log (Redis ≥ 7.0, for ``0-*`` ids) and open a
        connection, so the first call does not pay for it. Raises `LogUnavailable`."""
        with _request("checking the Redis server"):
            info = await self._client.info("server")
        version = str(info.get("redis_version", "0"))
        if tuple(int(part) for part in version.split(".")[:2]) < (7, 0):
            raise LogUnavailable(f"the event log needs Redis 7.0 or later, not {version}")

    async def drop_group(self, group: str) -> None:
        """Forget ``group`` on every partition of every topic: a group nothing reads
        through any more would hold trimming back for ever at its committed offsets."""
        for topic, count in self._topics.items():
            with _request(f"dropping group {group} from {topic}"):
                async with self._client.pipeline(transaction=False) as pipe:
                    for partition in range(count):
                        pipe.eval(
                            DROP_GROUP, keys=[self.stream_key(topic, partition)], args=[group]
                        )

    async def publish(self, topic: str, key: str | int, event: Any) -> tuple[int, int]:
        """As `EventLog.publish`: one XADD. coredis retries a command whose connection
        broke (twice, by default), so an append whose answer was lost that way can land
        twice; consumers are idempotent. Nothing here cancels a request halfway, which is
        what breaks a shared connection (see `uncancelled`)."""
        partition = partition_for(key, self._count(topic))
        payload = self._pack(event)
        stream = self.stream_key(topic, partition)
        with _request(f"{topic}[{partition}] did not acknowledge"):
            entry = await self._client.xadd(
                stream, {"k": str(key), "t": repr(self._clock()), "v": payload}, identifier="0-*"
            )
        offset = _offset(entry)
        self._watch.appended(stream, offset + 1)
        return partition, offset

    async def fetch(
        self,
        topic: str,
        positions: Mapping[int, int],
        *,
        max_records: int = 500,
        timeout: float | None = None,
    ) -> Fetched:
        """As `EventLog.fetch`. A wait is sent as one request: the partitions are read and,
        behind that on the same connection, a blocking XREAD from the same positions, whose
        answer (the entries that woke it) is the result when the reads found nothing. So an
        event appended after the fetch began is never missed, and waking takes no further
        round trip. It holds a connection while it waits, unless the log's watcher runs
        (the log's tree is up): then it waits through the watcher, as group members do."""
        count = self._count(topic)
        for partition in positions:
            self._check(topic, partition, count)
        if not positions:
            await trio.lowlevel.checkpoint()
            return Fetched([], {}, {})
        keys = {p: self.stream_key(topic, p) for p in positions}
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        if timeout != 0 and self._watch.running:
            return await self._fetch_watched(topic, positions, keys, max_records, deadline)
        wanted = {p: max(offset, 0) for p, offset in positions.items()}
        share = max(max_records // len(wanted), 1)
        # A position within what this process has seen is valid, so the read can wait at
        # once; any other is checked by a read first (positions past the end are refused).
        checked = all(wanted[p] <= self._ends.get(keys[p], 0) for p in wanted)
        while True:
            block = self._block_ms(deadline) if timeout != 0 and checked else None
            if block is None:
                heads, woken = await self._read_heads(keys, wanted, share), None
            else:
                heads, woken = await self._read_and_wait(keys, wanted, share, block, deadline)
            for partition, (_, end, _) in heads.items():
                if positions[partition] > end:
                    raise ValueError(
                        f"offset {positions[partition]} is past the end of {topic}[{partition}]"
                    )
            records = await self._fill(topic, keys, heads, share, max_records)
            if not records and woken:
                records = self._woken(topic, keys, woken, heads)
            ends = {p: end for p, (_, end, _) in heads.items()}
            starts = {p: start for p, (start, _, _) in heads.items()}
            # Unchecked positions were read without waiting; now they are known good.
            if records or timeout == 0 or checked:
                return Fetched(records[:max_records], ends, starts)
            checked = True

    async def _fetch_watched(
        self,
        topic: str,
        positions: Mapping[int, int],
        keys: Mapping[int, str],
        max_records: int,
        deadline: float,
    ) -> Fetched:
        """A fetch that waits through the log's watcher, as group members do: no
        connection held while it waits, and a cancelled wait costs nothing."""
        while True:
            fetched = await self.fetch(topic, positions, max_records=max_records, timeout=0)
            if fetched.records or trio.current_time() >= deadline:
                return fetched
            wake = trio.Event()
            ends = {keys[p]: end for p, end in fetched.end_offsets.items()}
            try:
                if self._watch.add(wake, ends):
                    with _request("waking the log's watcher"):
                        await self._watch.ring()
                with trio.move_on_at(deadline):
                    await wake.wait()
            finally:
                self._watch.discard(wake, ends)

    async def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        self._check(topic, partition, self._count(topic))
        with _request(f"committing {group} on {topic}[{partition}]"):
            await self._client.eval(
                COMMIT, keys=[self.stream_key(topic, partition)], args=[group, offset]
            )

    async def committed(self, group: str, topic: str, partition: int) -> int:
        self._check(topic, partition, self._count(topic))
        with _request(f"reading {group}'s offset on {topic}[{partition}]"):
            _, _, done = await self._client.eval(
                POSITION, keys=[self.stream_key(topic, partition)], args=[group]
            )
        return int(done)

    async def end_offsets(self, topic: str) -> list[int]:
        return [end for _, end, _ in await self._positions("", topic)]

    async def lag(self, group: str, topic: str) -> list[int]:
        return [end - max(done, start) for start, end, done in await self._positions(group, topic)]

    @asynccontextmanager
    async def join(
        self, group: str, topic: str, partitions: Sequence[int], *, member: str
    ) -> AsyncIterator[RedisGroupMember]:
        """A member reading through the group ``group`` as consumer ``{process}:{member}``.
        With leases, it reads only the partitions whose lease this process holds; the
        leases are kept in a task of its own, which cancels the member's work (raising
        `LeaseLost`) the moment one may have run out."""
        count = self._count(topic)
        for partition in partitions:
            self._check(topic, partition, count)
        terms = self._lease_terms
        async with trio.open_nursery() as nursery:
            leases = None
            if terms is not None:
                leases = PartitionLeases(
                    self._client,
                    prefix=self._prefix,
                    group=group,
                    topic=topic,
                    member=member,
                    partitions=list(partitions),
                    token=self._process,
                    terms=terms,
                )
                with _served(f"taking leases for {member}"):
                    await nursery.start(leases.run)
            reader = RedisGroupMember(
                self,
                group=group,
                topic=topic,
                partitions=partitions,
                consumer=f"{self._process}:{member}",
                leases=leases,
                claim_idle=terms.claim_idle if terms is not None else 0.0,
                retry_after=terms.renewal_interval if terms is not None else 1.0,
            )
            try:
                yield reader
            finally:
                nursery.cancel_scope.cancel()

    async def enforce_retention(self) -> int:
        """Trim every partition by age and length, never past a group's committed offset;
        how many entries went."""
        retention = self._retention
        cutoff = repr(self._clock() - retention.max_age)
        limit = "" if retention.max_entries is None else str(retention.max_entries)
        keys = [self.stream_key(t, p) for t, count in self._topics.items() for p in range(count)]
        with _request("trimming the log"):
            async with self._client.pipeline(transaction=False, raise_on_error=False) as pipe:
                trims = [pipe.eval(TRIM, keys=[key], args=[cutoff, limit]) for key in keys]
            return sum([int(await trim) for trim in trims])

    # -- internals ------------------------------------------------------------------------

    def _count(self, topic: str) -> int:
        try:
            return self._topics[topic]
        except KeyError:
            raise UnknownTopic(topic) from None

    @staticmethod
    def _check(topic: str, partition: int, count: int) -> None:
        if not 0 <= partition < count:
            raise ValueError(f"{topic} has partitions 0..{count - 1}, not {partition}")

    def _seen(self, key: str, end: int) -> None:
        if end > self._ends.get(key, 0):
            self._ends[key] = end

    @staticmethod
    def _block_ms(deadline: float) -> int | None:
        """XREAD's BLOCK for a wait until ``deadline``: 0 is for ever. Redis's own timer
        ends the wait a little early, so the answer comes back instead of a cancellation
        (which costs the connection); None when there is no time left to wait."""
        if deadline == math.inf:
            return 0
        left = int((deadline - trio.current_time()) * 1000) - 10
        return left if left >= 1 else None

    async def _read_heads(
        self, keys: Mapping[int, str], wanted: Mapping[int, int], share: int
    ) -> dict[int, tuple[int, int, list[Any]]]:
        """Each partition's start, end and first ``share`` rows from its position."""
        with _request("reading the log"):
            async with self._client.pipeline(transaction=False, raise_on_error=False) as pipe:
                reads = {
                    p: pipe.eval(READ_RANGE, keys=[keys[p]], args=[offset, share])
                    for p, offset in wanted.items()
                }
            return {p: self._head(keys[p], await read) for p, read in reads.items()}

    async def _read_and_wait(
        self,
        keys: Mapping[int, str],
        wanted: Mapping[int, int],
        share: int,
        block: int,
        deadline: float,
    ) -> tuple[dict[int, tuple[int, int, list[Any]]], dict[bytes, Any] | None]:
        """`_read_heads`, and a blocking XREAD sent with it on the same connection: its
        answer, or None when Redis's timer or ``deadline`` ended the wait. The reads are in
        hand before the deadline can strike, so nothing is left to ask once it has.

        The requests go straight onto a connection of the pool, held throughout: a
        pipeline would give every answer at once or none. A connection whose XREAD was not
        answered (cancelled, or a read failed first) is dropped, never pooled again."""
        pool = self._client.connection_pool
        with _served("reading the log"):
            with uncancelled():
                connection = await pool.get_connection()
            wait = None
            try:
                reads = {
                    p: connection.create_request(
                        b"EVAL", READ_RANGE, 1, keys[p], offset, share,
                        disconnect_on_cancellation=True,
                    )
                    for p, offset in wanted.items()
                }  # fmt: skip
                ids = [f"0-{offset}" for offset in wanted.values()]
                # The client's reply timeout counts from the end of Redis's own wait.
                patience = math.inf if block == 0 else block / 1000 + REPLY_TIMEOUT
                wait = connection.create_request(
                    b"XREAD", b"COUNT", share, b"BLOCK", block, b"STREAMS",
                    *(keys[p] for p in wanted), *ids,
                    disconnect_on_cancellation=True, timeout=patience,
                )  # fmt: skip
                # The connection may carry other tasks' requests, answered before these:
                # once these are in, cancelling the XREAD harms no one else's.
                with uncancelled():
                    heads = {p: self._head(keys[p], await read) for p, read in reads.items()}
                woken = None
                with trio.move_on_at(deadline):
                    woken = await wait
            finally:
                if wait is None or not wait.complete:
                    connection.invalidate("a blocking read was left behind")
                pool.release(connection)
        return heads, woken

    def _head(self, key: str, reply: Sequence[Any]) -> tuple[int, int, list[Any]]:
        start, end = int(reply[0]), int(reply[1])
        self._seen(key, end)
        return start, end, list(reply[2:])

    async def _fill(
        self,
        topic: str,
        keys: Mapping[int, str],
        heads: Mapping[int, tuple[int, int, list[Any]]],
        share: int,
        max_records: int,
    ) -> list[Record]:
        """The heads' records, at most ``max_records``: a share each, then whatever room is
        left, in the order the partitions came (the protocol's fairness)."""
        taken: dict[int, list[Record]] = {}
        room = max_records
        for partition, (_, _, rows) in heads.items():
            if rows and room > 0:
                records = _records(topic, partition, rows)[:room]
                taken[partition] = records
                room -= len(records)
        for partition, records in taken.items():
            if room <= 0:
                break
            if len(records) == share:
                with _request("reading the log"):
                    reply = await self._client.eval(
                        READ_RANGE, keys=[keys[partition]], args=[records[-1].offset + 1, room]
                    )
                more = _records(topic, partition, reply[2:])
                records.extend(more)
                room -= len(more)
        return [record for records in taken.values() for record in records]

    def _woken(
        self,
        topic: str,
        keys: Mapping[int, str],
        woken: Mapping[bytes, Sequence[Any]],
        heads: dict[int, tuple[int, int, list[Any]]],
    ) -> list[Record]:
        """Records from the entries that woke a blocking read; the ends they show."""
        records: list[Record] = []
        for partition, key in keys.items():
            entries = woken.get(key.encode())
            if not entries:
                continue
            rows = [cell for entry_id, fields in entries for cell in (entry_id, *fields[1::2])]
            records.extend(_records(topic, partition, rows))
            start, end, head_rows = heads[partition]
            end = max(end, _offset(entries[-1][0]) + 1)
            heads[partition] = (start, end, head_rows)
            self._seen(key, end)
        return records

    async def _positions(self, group: str, topic: str) -> list[tuple[int, int, int]]:
        keys = [self.stream_key(topic, p) for p in range(self._count(topic))]
        with _request(f"reading {topic}'s offsets"):
            async with self._client.pipeline(transaction=False, raise_on_error=False) as pipe:
                reads = [pipe.eval(POSITION, keys=[key], args=[group]) for key in keys]
            positions = []
            for key, read in zip(keys, reads, strict=True):
                start, end, done = (int(n) for n in await read)
                self._seen(key, end)
                positions.append((start, end, done))
            return positions
