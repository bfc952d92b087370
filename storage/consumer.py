"""Consumer groups over any `EventLog`: fetch in order, apply, then commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from actors import Actor, ActorSpec, SupervisorSpec
from storage.protocols import EventLog, Record

#: Applies a batch of records (in offset order within each partition). It must be
#: idempotent: after a crash, the batch that was not committed is delivered again.
Handler = Callable[[Sequence[Record]], Awaitable[None]]


class Consumer(Actor):
    """One member of a consumer group: owns some partitions of one topic and applies their
    records in order, committing each batch after it is applied (at-least-once).

    A new incarnation starts from the group's committed offsets, so a consumer killed
    mid-batch sees that batch again, and nothing before it.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        group: str,
        topic: str,
        partitions: Sequence[int],
        handler: Handler,
        max_records: int = 500,
    ) -> None:
        self._log = log
        self._group = group
        self._topic = topic
        self._partitions = list(partitions)
        self._handler = handler
        self._max_records = max_records
        self._positions: dict[int, int] = {}
        self._lag = 0

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        log, group, topic = self._log, self._group, self._topic
        positions = self._positions
        for partition in self._partitions:
            positions[partition] = await log.committed(group, topic, partition)
        lag = await log.lag(group, topic)
        self._lag = sum(lag[p] for p in self._partitions)
        task_status.started()
        while True:
            records, end_offsets, start_offsets = await log.fetch(
                topic, positions, max_records=self._max_records
            )
            # Counted before applying: a consumer stuck on a batch shows what waits behind it.
            self._lag = sum(
                end_offsets[p] - max(positions[p], start_offsets[p]) for p in end_offsets
            )
            await self._handler(records)
            advanced: dict[int, int] = {}
            for record in records:
                advanced[record.partition] = record.offset + 1
            for partition, offset in advanced.items():
                await log.commit(group, topic, partition, offset)
            # The partitions just served go to the back of the order, so when one fetch
            # cannot hold them all, the others come first next time.
            waiting = {p: o for p, o in positions.items() if p not in advanced}
            positions = self._positions = waiting | advanced
            self._lag -= len(records)

    def describe(self) -> dict[str, Any]:
        return {
            "group": self._group,
            "topic": self._topic,
            "partitions": self._partitions,
            "lag": self._lag,
        }


def consumer_group(
    log: EventLog,
    *,
    group: str,
    topic: str,
    members: int,
    handler: Handler,
    max_records: int = 500,
    max_restarts: int = 100,
    within: float = 10.0,
) -> SupervisorSpec:
    """A supervisor of ``members`` consumers sharing ``topic``'s partitions round-robin
    (member i owns partitions i, i + members, …). One-for-one: members are independent."""
    count = log.topics[topic]
    if not 1 <= members <= count:
        raise ValueError(f"{group}: between 1 and {count} members for {topic}, not {members}")

    def member(index: int) -> ActorSpec:
        return ActorSpec(
            f"{group}.{topic}.{index}",
            lambda: Consumer(
                log,
                group=group,
                topic=topic,
                partitions=range(index, count, members),
                handler=handler,
                max_records=max_records,
            ),
        )

    return SupervisorSpec(
        f"{group}.{topic}",
        [member(i) for i in range(members)],
        max_restarts=max_restarts,
        within=within,
    )


def consumer_tree(
    log: EventLog,
    *,
    group: str,
    topics: Sequence[str],
    shards: int,
    handler: Handler,
    helpers: Sequence[ActorSpec] = (),
    max_restarts: int = 100,
    within: float = 10.0,
) -> SupervisorSpec:
    """A supervisor named ``group``: the ``helpers`` the handler sends to (started first,
    stopped last), then one `consumer_group` per topic, each of up to ``shards`` members
    (no more than the topic has partitions)."""
    groups = [
        consumer_group(
            log,
            group=group,
            topic=topic,
            members=min(shards, log.topics[topic]),
            handler=handler,
            max_restarts=max_restarts,
            within=within,
        )
        for topic in topics
    ]
    return SupervisorSpec(group, [*helpers, *groups], max_restarts=max_restarts, within=within)
