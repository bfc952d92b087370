"""Following topics for this process alone: every partition, no group, no commits.

A consumer group splits a topic among processes, so each applies a share; a view every
process must hold whole (the search index, held in each process's memory) is fed by
followers instead: each process reads every partition and keeps its own positions, as a
Kafka consumer with ``assign()`` and no group does. Positions live in `Positions`, which
outlives the followers, so a killed follower resumes where it left off (its handler must
be idempotent: the batch it was applying comes again)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

from actors import Actor, ActorSpec, SupervisorSpec
from storage.protocols import EventLog

from .consumer import Handler

#: Longest a follower's fetch waits before it asks again (below the Redis client's reply
#: timeout, so a quiet topic never looks like a lost server).
WAIT = 5.0


class Positions:
    """Per topic and partition, the offset of the next record this process will apply,
    and the ends the last fetches saw (for lag)."""

    def __init__(self, log: EventLog, topics: Sequence[str]) -> None:
        self.next: dict[str, list[int]] = {t: [0] * log.topics[t] for t in topics}
        self.ends: dict[str, list[int]] = {t: [0] * log.topics[t] for t in topics}

    def saved(self) -> dict[str, list[int]]:
        """The next offsets, copied: what an index saves with each commit."""
        return {topic: list(offsets) for topic, offsets in self.next.items()}

    def resume(self, saved: dict[str, list[int]]) -> bool:
        """Carry on from ``saved`` (what `saved` gave before a restart); False, keeping
        the positions, if its topics or partition counts are not these."""
        shapes = {topic: len(offsets) for topic, offsets in self.next.items()}
        if {topic: len(offsets) for topic, offsets in saved.items()} != shapes:
            return False
        for topic, offsets in saved.items():
            self.next[topic][:] = offsets  # in place: followers hold these lists
        return True

    async def lag(self, log: EventLog) -> int:
        """Records published and not applied yet, asked of the log now."""
        return sum((await self.lags(log)).values())

    async def lags(self, log: EventLog) -> dict[str, int]:
        """`lag` per topic."""
        behind = {}
        for topic, positions in self.next.items():
            ends = await log.end_offsets(topic)
            behind[topic] = sum(max(end - at, 0) for end, at in zip(ends, positions, strict=True))
        return behind


class Follower(Actor):
    """Reads every partition of one topic, in order within each, and applies each batch
    before moving its positions on."""

    def __init__(
        self,
        log: EventLog,
        topic: str,
        positions: Positions,
        handler: Handler,
        *,
        max_records: int = 500,
    ) -> None:
        self._log = log
        self._topic = topic
        self._next = positions.next[topic]
        self._ends = positions.ends[topic]
        self._handler = handler
        self._max_records = max_records

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        order = list(range(len(self._next)))
        while True:
            fetched = await self._log.fetch(
                self._topic,
                {p: self._next[p] for p in order},
                max_records=self._max_records,
                timeout=WAIT,
            )
            if fetched.records:
                await self._handler(fetched.records)
            for record in fetched.records:
                self._next[record.partition] = record.offset + 1
            for partition, end in fetched.end_offsets.items():
                self._ends[partition] = end
                # Retention took what was never read: nothing left to apply below its start.
                start = fetched.start_offsets.get(partition, 0)
                self._next[partition] = max(self._next[partition], start)
            order = order[1:] + order[:1]  # no partition waits behind the others for ever

    def describe(self) -> dict[str, Any]:
        lag = sum(max(end - at, 0) for end, at in zip(self._ends, self._next, strict=True))
        return {"topic": self._topic, "positions": list(self._next), "lag": lag}


def follower_tree(
    log: EventLog,
    *,
    name: str,
    positions: Positions,
    handler: Handler,
    helpers: Sequence[ActorSpec] = (),
    max_restarts: int = 100,
    within: float = 10.0,
) -> SupervisorSpec:
    """A supervisor named ``name``: the ``helpers`` the handler sends to (started first,
    stopped last), then a follower per topic of ``positions``, ``{name}.{topic}``."""
    followers = [
        ActorSpec(f"{name}.{topic}", lambda t=topic: Follower(log, t, positions, handler))
        for topic in positions.next
    ]
    return SupervisorSpec(name, [*helpers, *followers], max_restarts=max_restarts, within=within)
