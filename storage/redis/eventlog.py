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

import logging
import math
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgpack
import trio
from coredis.exceptions import RedisError
from coredis.tokens import PureToken

from actors import Actor, ActorSpec, SupervisorSpec
from storage.partitioning import partition_for
from storage.protocols import (
    Fetched,
    LeaseLost,
    LogUnavailable,
    Record,
    UnknownTopic,
)

from .client import REPLY_TIMEOUT
from .leases import LeaseTerms, PartitionLeases, lease_key, uncancelled

logger = logging.getLogger("storage.redis.eventlog")


@dataclass(frozen=True)
class StreamRetention:
    """How long and how much each partition's stream keeps: entries older than ``max_age``
    seconds go, and beyond the newest ``max_entries`` (None: no limit), checked every
    ``check_interval`` seconds. Nothing a consumer group has not committed goes, however
    old: its pending entries are claimed by whoever takes the partition over, and the rest
    it has yet to read. (Redis cannot weigh a stream's bytes cheaply; entries stand in.)"""

    max_age: float = 7 * 24 * 3600.0
    max_entries: int | None = 1_000_000
    check_interval: float = 300.0

    def __post_init__(self) -> None:
        if self.max_age <= 0 or self.check_interval <= 0:
            raise ValueError("retention needs a positive max_age and check_interval")
        if self.max_entries is not None and self.max_entries < 0:
            raise ValueError("retention max_entries must be >= 0, or None for no limit")


# -- Lua ------------------------------------------------------------------------------------
# Replies are flat: each entry is id, key, time, payload (fields are written in that order).

_LUA_COMMON = """
local function seq(id) return tonumber(string.match(id, '%-(%d+)$')) end
local function entry_id(offset) return string.format('0-%d', offset + 1) end

-- the partition's retained start and its end (the offset the next append gets)
local function bounds(key)
  if redis.call('EXISTS', key) == 0 then return 0, 0 end
  local info = redis.call('XINFO', 'STREAM', key)
  local added, first = 0, false
  for i = 1, #info, 2 do
    if info[i] == 'entries-added' then added = info[i + 1]
    elseif info[i] == 'first-entry' then first = info[i + 1] end
  end
  if first then return seq(first[1]) - 1, added end
  return added, added
end

-- each group's committed offset: its oldest pending entry, or all it has been delivered
local function committed_offsets(key)
  local out = {}
  if redis.call('EXISTS', key) == 0 then return out end
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local name, pending, delivered
    for i = 1, #g, 2 do
      if g[i] == 'name' then name = g[i + 1]
      elseif g[i] == 'pending' then pending = g[i + 1]
      elseif g[i] == 'last-delivered-id' then delivered = g[i + 1] end
    end
    if pending > 0 then
      out[name] = seq(redis.call('XPENDING', key, name)[2]) - 1
    else
      out[name] = seq(delivered)
    end
  end
  return out
end

local function fence(lease, token)
  if token ~= '' and redis.call('GET', lease) ~= token then
    return redis.error_reply('LEASELOST this process does not hold ' .. lease)
  end
end

local function add_entries(out, entries)
  for _, e in ipairs(entries) do
    local f = e[2]
    out[#out + 1] = e[1]; out[#out + 1] = f[2]; out[#out + 1] = f[4]; out[#out + 1] = f[6]
  end
end
"""

# KEYS: stream. ARGV: position, count. → start, end, entries from position.
READ_RANGE = (
    _LUA_COMMON
    + """
local start, stop = bounds(KEYS[1])
local out = {start, stop}
local position, count = tonumber(ARGV[1]), tonumber(ARGV[2])
if count > 0 and position < stop then
  add_entries(out, redis.call('XRANGE', KEYS[1], entry_id(position), '+', 'COUNT', count))
end
return out
"""
)

# KEYS: stream, lease. ARGV: group, consumer, id ('>' or a pending cursor), count, token.
# → start, end, how many entries the read took, the live ones (ones deleted meanwhile are
# acknowledged: nobody can apply them).
READ_GROUP = (
    _LUA_COMMON
    + """
local refused = fence(KEYS[2], ARGV[5])
if refused then return refused end
local start, stop = bounds(KEYS[1])
local out = {start, stop, 0}
local reply = redis.call(
  'XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[4], 'STREAMS', KEYS[1], ARGV[3])
if reply then
  local entries, live, gone = reply[1][2], {}, {}
  out[3] = #entries
  for _, e in ipairs(entries) do
    if e[2] then live[#live + 1] = e else gone[#gone + 1] = e[1] end
  end
  if #gone > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(gone)) end
  add_entries(out, live)
end
return out
"""
)

# KEYS: stream, lease. ARGV: group, token, ids...
ACK = (
    _LUA_COMMON
    + """
local refused = fence(KEYS[2], ARGV[2])
if refused then return refused end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 3))
"""
)

# KEYS: stream, lease. ARGV: group, consumer, token, min idle ms.
# Make every pending entry of the group this consumer's, and forget consumers left with
# none. → how many entries others still hold (not idle long enough yet).
TAKEOVER = (
    _LUA_COMMON
    + """
local refused = fence(KEYS[2], ARGV[3])
if refused then return refused end
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
local cursor = '0-0'
repeat
  cursor = redis.call(
    'XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[4], cursor, 'COUNT', 1000, 'JUSTID')[1]
until cursor == '0-0'
local waiting = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local name, pending
  for i = 1, #c, 2 do
    if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
  end
  if name ~= ARGV[2] then
    if pending == 0 then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], name)
    else
      waiting = waiting + pending
    end
  end
end
return waiting
"""
)

# KEYS: stream. ARGV: group ('' for none). → start, end, the group's committed offset.
POSITION = (
    _LUA_COMMON
    + """
local start, stop = bounds(KEYS[1])
local done = 0
if ARGV[1] ~= '' then done = committed_offsets(KEYS[1])[ARGV[1]] or 0 end
return {start, stop, done}
"""
)

# KEYS: stream. ARGV: group, offset.
COMMIT = (
    _LUA_COMMON
    + """
local offset = tonumber(ARGV[2])
local start, stop = bounds(KEYS[1])
if offset < 0 or offset > stop then
  return redis.error_reply(string.format('BADOFFSET offset %d is outside 0..%d', offset, stop))
end
redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
while offset > 0 do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], '-', string.format('0-%d', offset), 1000)
  if #pending == 0 then break end
  local ids = {}
  for i, p in ipairs(pending) do ids[i] = p[1] end
  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))
end
if redis.call('XPENDING', KEYS[1], ARGV[1])[1] == 0 then
  redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], string.format('0-%d', offset))
end
return offset
"""
)

# KEYS: stream. ARGV: cutoff time ('' for none), max entries ('' for none).
# → how many entries went. Never past any group's committed offset.
TRIM = (
    _LUA_COMMON
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local start, stop = bounds(KEYS[1])
local cut = start
if ARGV[2] ~= '' then cut = math.max(cut, stop - tonumber(ARGV[2])) end
if ARGV[1] ~= '' then
  -- the first entry young enough (append times rise with offsets)
  local cutoff, lo, hi = tonumber(ARGV[1]), cut, stop
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('XRANGE', KEYS[1], entry_id(mid), '+', 'COUNT', 1)[1]
    if e and tonumber(e[2][4]) < cutoff then lo = seq(e[1]) else hi = mid end
  end
  cut = lo
end
for _, offset in pairs(committed_offsets(KEYS[1])) do
  if offset < cut then cut = offset end
end
if cut <= start then return 0 end
return redis.call('XTRIM', KEYS[1], 'MINID', entry_id(cut))
"""
)

_LEASE_LOST = "LEASELOST"
_BAD_OFFSET = "BADOFFSET"
_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


@contextmanager
def _request(what: str) -> Iterator[None]:
    """A round trip whose failures are the log's errors, not cut short by cancellation."""
    with _served(what), uncancelled():
        yield


@contextmanager
def _served(what: str) -> Iterator[None]:
    """Redis's failures as the log's errors."""
    try:
        yield
    except _REDIS_ERRORS as exc:
        message = str(exc)
        if message.startswith(_LEASE_LOST):
            raise LeaseLost(f"{what}: {message.removeprefix(_LEASE_LOST).strip()}") from exc
        if message.startswith(_BAD_OFFSET):
            raise ValueError(f"{what}: {message.removeprefix(_BAD_OFFSET).strip()}") from exc
        raise LogUnavailable(f"{what}: {exc}") from exc


def _offset(entry_id: bytes) -> int:
    return int(entry_id.rpartition(b"-")[2]) - 1


_unpack = partial(msgpack.unpackb, strict_map_key=False)


def _records(topic: str, partition: int, flat: Sequence[Any]) -> list[Record]:
    """Records from a script's flat id, key, time, payload rows."""
    unpack = _unpack
    return [
        Record(topic, partition, _offset(flat[i]), flat[i + 1].decode(), float(flat[i + 2]),
               unpack(flat[i + 3]))
        for i in range(0, len(flat), 4)
    ]  # fmt: skip


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
        round trip. It holds a connection while it waits: group members wait through the
        watcher instead."""
        count = self._count(topic)
        for partition in positions:
            self._check(topic, partition, count)
        if not positions:
            await trio.lowlevel.checkpoint()
            return Fetched([], {}, {})
        keys = {p: self.stream_key(topic, p) for p in positions}
        wanted = {p: max(offset, 0) for p, offset in positions.items()}
        share = max(max_records // len(wanted), 1)
        deadline = math.inf if timeout is None else trio.current_time() + timeout
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


#: How long the watcher's XREAD waits before it reads again (below the reply timeout).
WATCH_BLOCK_MS = int(REPLY_TIMEOUT * 1000 / 2)


class _Watch:
    """Wakes tasks waiting for streams to grow, for the whole process, with one blocking
    XREAD at a time. (A blocking read per waiting member would hold a connection each: a
    chirp process runs some eighty consumers, and coredis's pool holds 64.)

    The XREAD also watches the process's doorbell stream: a waiter on a stream the read in
    flight does not cover rings it (XADD), which ends the read at once, whenever the ring
    lands, so no wake-up is lost. Appends made by this process wake waiters directly.
    """

    def __init__(self, client: Any, doorbell: str, known_ends: dict[str, int]) -> None:
        self._client = client
        self._doorbell = doorbell
        self._known = known_ends  # the log's highest end seen per stream
        self._waiters: dict[str, dict[trio.Event, int]] = {}
        self._watching: dict[str, int] | None = None  # what the XREAD in flight covers
        self._rung = False
        self._wanted = trio.Event()
        self._bell = b"0-0"

    def add(self, event: trio.Event, ends: Mapping[str, int]) -> bool:
        """Set ``event`` once a stream in ``ends`` grows past the end given for it. True
        when the caller must `ring`, the XREAD in flight not covering them."""
        if any(self._known.get(key, 0) > end for key, end in ends.items()):
            event.set()
            return False
        for key, end in ends.items():
            self._waiters.setdefault(key, {})[event] = end
        watching = self._watching
        if watching is None:
            self._wanted.set()
            return False
        if self._rung or all(watching.get(key, math.inf) <= end for key, end in ends.items()):
            return False
        self._rung = True
        return True

    def discard(self, event: trio.Event, ends: Mapping[str, int]) -> None:
        for key in ends:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.pop(event, None)
                if not waiting:
                    del self._waiters[key]

    def appended(self, key: str, end: int) -> None:
        """``key`` has grown to ``end`` at least."""
        if end > self._known.get(key, 0):
            self._known[key] = end
        for event, known in self._waiters.get(key, {}).items():
            if known < end:
                event.set()

    async def ring(self) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._doorbell,
                {"r": "1"},
                trim_strategy=PureToken.MAXLEN,
                threshold=1,
            )
            pipe.pexpire(self._doorbell, 24 * 3600 * 1000)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            if not self._waiters:
                self._wanted = trio.Event()
                await self._wanted.wait()
                continue
            watching = {key: min(waiting.values()) for key, waiting in self._waiters.items()}
            streams: dict[str, Any] = {key: f"0-{end}" for key, end in watching.items()}
            streams[self._doorbell] = self._bell
            self._watching, self._rung = watching, False
            try:
                # Within the client's reply timeout, which would end the read by force.
                answer = await self._client.xread(streams, count=1, block=WATCH_BLOCK_MS)
            finally:
                self._watching = None
            for key, entries in (answer or {}).items():
                name = key.decode()
                if name == self._doorbell:
                    self._bell = entries[-1].identifier
                elif entries:
                    self.appended(name, _offset(entries[-1].identifier) + 1)


class _Watcher(Actor):
    """The actor running the log's `_Watch`: restarted, it watches what is waited for."""

    def __init__(self, watch: _Watch) -> None:
        self._watch = watch

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await self._watch.run(task_status=task_status)


class _Trimmer(Actor):
    """Trims the log every ``interval`` seconds; a failed round waits for the next one."""

    def __init__(self, log: RedisEventLog, interval: float) -> None:
        self._log = log
        self._interval = interval

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            try:
                await self._log.enforce_retention()
            except LogUnavailable as exc:
                logger.warning("trimming the log failed: %s", exc)
