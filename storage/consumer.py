"""Consumer groups over any `EventLog`: fetch in order, apply, then commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import trio

from actors import Actor, ActorSpec, SupervisorSpec
from storage.protocols import EventLog, GroupMember, Record

#: Applies a batch of records (in offset order within each partition). It must be
#: idempotent: after a crash, the batch that was not committed is delivered again.
Handler = Callable[[Sequence[Record]], Awaitable[None]]


class Consumer(Actor):
    """One member of a consumer group: reads some partitions of one topic and applies their
    records in order, committing each batch after it is applied (at-least-once).

    It reads through `EventLog.join`: a new incarnation starts from the group's committed
    offsets, so a consumer killed mid-batch sees that batch again, and nothing before it.
    Where several processes share the group, it reads only the partitions its process holds
    (and waits while it holds none); an orderly stop hands them back at once.
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
        self._member: GroupMember | None = None

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with self._log.join(
            self._group, self._topic, self._partitions, member=self.name
        ) as member:
            self._member = member
            task_status.started()
            while True:
                records = await member.poll(max_records=self._max_records)
                await self._handler(records)
                await member.commit(records)

    async def on_stop(self) -> None:
        if self._member is not None:
            await self._member.leave()

    def describe(self) -> dict[str, Any]:
        member = self._member
        return {
            "group": self._group,
            "topic": self._topic,
            "partitions": self._partitions,
            "owned": sorted(member.owned) if member is not None else [],
            "lag": member.lag if member is not None else 0,
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
    backoff: float = 0.0,
    max_backoff: float = 30.0,
) -> SupervisorSpec:
    """A supervisor named ``group``: the ``helpers`` the handler sends to (started first,
    stopped last), then one `consumer_group` per topic, each of up to ``shards`` members
    (no more than the topic has partitions). A topic's group that gives up (a poison
    record, say) is restarted after a ``backoff`` while the other topics go on."""
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
    return SupervisorSpec(
        group,
        [*helpers, *groups],
        max_restarts=max_restarts,
        within=within,
        backoff=backoff,
        max_backoff=max_backoff,
    )
