"""Partition leases in Redis: which process consumes which partition for a consumer group.

Several chirp processes share each consumer group. Each partition of a topic is read by one
process at a time: the one holding the partition's lease, a key ``SET NX PX`` to that
process's token, renewed well before it runs out (compare-and-extend) and deleted on an
orderly stop (compare-and-delete). A process that dies stops renewing; its leases run out
and the others take its partitions over. Leases are shared out fairly: every member
heartbeats into a set of candidates for its partitions, takes no more than its share of
them, and hands surplus ones back between batches, so a process joining gets work.

Expiry is judged by Redis's clock (``PX``, ``TIME``); this process's own view of how long a
lease is surely still its own is measured from before each renewal was sent, by trio's
clock, which must therefore be a real one.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import trio
from coredis.exceptions import RedisError

from storage.protocols import LeaseLost

logger = logging.getLogger("storage.redis.leases")

_FAILURES = (RedisError, OSError, TimeoutError)


@dataclass(frozen=True)
class LeaseTerms:
    """How long a lease lasts unrenewed (``ttl`` seconds) and how often its holder renews
    it and looks for partitions to take (``renew_every``, a third of ``ttl`` by default:
    two renewals may fail before the lease is in danger). A partition taken over from a
    dead holder has its pending entries claimed once they have been idle ``claim_idle``
    seconds (0: at once, since the lease running out already says the holder is gone)."""

    ttl: float = 15.0
    renew_every: float | None = None
    claim_idle: float = 0.0

    def __post_init__(self) -> None:
        if self.ttl <= 0 or self.claim_idle < 0:
            raise ValueError("leases need a positive ttl and a claim_idle >= 0")
        if self.renew_every is not None and not 0 < self.renew_every < self.ttl:
            raise ValueError("renew_every must be positive and below the ttl")

    @property
    def renewal_interval(self) -> float:
        return self.renew_every if self.renew_every is not None else self.ttl / 3

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))


@contextmanager
def uncancelled() -> Iterator[None]:
    """One round trip to Redis that cancellation does not cut short: it lands once the
    answer is in, as `storage.atomic` does for whole store calls. coredis drops a
    connection whose request is cancelled, failing every other task's request in flight
    on it (connections are shared), and its retries would then append an event twice.
    Bounded by the client's reply timeout (`storage.redis.client.REPLY_TIMEOUT`)."""
    with trio.CancelScope(shield=True):
        yield


def lease_key(prefix: str, group: str, topic: str, partition: int) -> str:
    """The lease's key. Its hash tag is the partition's stream's, so a script can check the
    lease and touch the stream in one step (on one node of a cluster)."""
    return f"{prefix}lease:{group}:{{{topic}:{partition}}}"


def candidates_key(prefix: str, group: str, member: str) -> str:
    """The sorted set of the processes running ``member`` of ``group``, scored by when each
    stops counting unless it heartbeats again."""
    return f"{prefix}candidates:{group}:{member}"


# Take the lease if it is free, or keep it if it is already ours (a restarted member).
ACQUIRE = """
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Count the live candidates (this one included), by Redis's clock.
HEARTBEAT = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', ms))
redis.call('ZADD', KEYS[1], string.format('%.0f', ms + tonumber(ARGV[2])), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('ZCARD', KEYS[1])
"""


class PartitionLeases:
    """The leases one member of a consumer group, in one process, holds on ``partitions``.

    `run` keeps them: it heartbeats, renews what it holds, takes free partitions up to its
    fair share (its partitions ÷ live candidates, rounded up) and marks any above that share
    as ``surplus`` for the member to `release` between batches. It raises `LeaseLost` when a
    renewal is refused, or when a lease's time runs out while Redis does not answer: the
    member must stop applying at once, and its nursery makes sure it does.

    ``held`` maps each partition held to the trio time until which it is surely still held.
    Tasks waiting for the holdings to change add a `trio.Event` to ``waiters``.
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        group: str,
        topic: str,
        member: str,
        partitions: Sequence[int],
        token: str,
        terms: LeaseTerms,
    ) -> None:
        self._client = client
        self._keys = {p: lease_key(prefix, group, topic, p) for p in partitions}
        self._candidates = candidates_key(prefix, group, member)
        self._token = token
        self._terms = terms
        # Members of different processes start their search for free partitions at
        # different places, so they do not all race for the same ones.
        start = zlib.crc32(token.encode()) % max(len(partitions), 1)
        self._search_order = list(partitions[start:]) + list(partitions[:start])
        self.held: dict[int, float] = {}
        self.surplus: set[int] = set()
        self.waiters: set[trio.Event] = set()

    @property
    def token(self) -> str:
        return self._token

    def key(self, partition: int) -> str:
        return self._keys[partition]

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Keep the leases until cancelled; started once the first round has taken what it
        could. Raises `LeaseLost`."""
        await self._round()
        task_status.started()
        interval = self._terms.renewal_interval
        while True:
            next_round = trio.current_time() + interval
            await trio.sleep_until(min([next_round, *self.held.values()]))
            now = trio.current_time()
            expired = sorted(p for p, until in self.held.items() if until <= now)
            if expired:
                raise LeaseLost(f"the leases on partitions {expired} ran out unrenewed")
            if now >= next_round:
                await self._round()

    async def release(self, partitions: Sequence[int]) -> None:
        """Hand ``partitions`` back (only between batches: nothing of theirs is being
        applied), so another process can take them now."""
        gone = [p for p in partitions if p in self.held]
        for partition in gone:
            del self.held[partition]
            self.surplus.discard(partition)
        if gone:
            with uncancelled():
                async with self._client.pipeline(transaction=False) as pipe:
                    for partition in gone:
                        pipe.eval(RELEASE, keys=[self._keys[partition]], args=[self._token])
            self._notify()

    async def leave(self) -> None:
        """An orderly stop: release everything and stop counting as a candidate."""
        await self.release(sorted(self.held))
        with uncancelled():
            await self._client.zrem(self._candidates, [self._token])

    async def _round(self) -> None:
        terms, token = self._terms, self._token
        started = trio.current_time()
        try:
            held = sorted(self.held)
            with uncancelled():
                async with self._client.pipeline(transaction=False) as pipe:
                    live = pipe.eval(HEARTBEAT, keys=[self._candidates], args=[token, terms.ttl_ms])
                    renewals = [
                        pipe.eval(RENEW, keys=[self._keys[p]], args=[token, terms.ttl_ms])
                        for p in held
                    ]
                live_count = await live
                renewed = [await renewal for renewal in renewals]
        except _FAILURES as exc:
            # The leases last ttl from their last renewal: run() gives up on them then.
            logger.warning("renewing leases failed, retrying: %s", exc)
            return
        refused = [p for p, ok in zip(held, renewed, strict=True) if not ok]
        if refused:
            raise LeaseLost(f"the leases on partitions {refused} are no longer this process's")
        until = started + terms.ttl
        for partition in held:
            self.held[partition] = until
        share = math.ceil(len(self._keys) / max(int(live_count), 1))
        if len(self.held) > share:
            self.surplus = set(sorted(self.held)[share:])
            self._notify()
        elif len(self.held) < share:
            self.surplus.clear()
            await self._take(share - len(self.held), started)

    async def _take(self, wanted: int, started: float) -> None:
        candidates = [p for p in self._search_order if p not in self.held]
        try:
            with uncancelled():
                async with self._client.pipeline(transaction=False) as pipe:
                    holders = [pipe.get(self._keys[p]) for p in candidates]
                mine = self._token.encode()
                # A lease still ours is one an earlier incarnation of this member held.
                free = [
                    p
                    for p, holder in zip(candidates, holders, strict=True)
                    if await holder in (None, mine)
                ]
            if not free:
                return
            chosen = free[:wanted]
            with uncancelled():
                async with self._client.pipeline(transaction=False) as pipe:
                    taken = [
                        pipe.eval(
                            ACQUIRE, keys=[self._keys[p]], args=[self._token, self._terms.ttl_ms]
                        )
                        for p in chosen
                    ]
                results = [await outcome for outcome in taken]
        except _FAILURES as exc:
            logger.warning("taking leases failed, retrying: %s", exc)
            return
        gained = [p for p, ok in zip(chosen, results, strict=True) if ok]
        for partition in gained:
            self.held[partition] = started + self._terms.ttl
        if gained:
            self._notify()

    def _notify(self) -> None:
        for event in self.waiters:
            event.set()
        self.waiters.clear()
