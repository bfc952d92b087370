"""Consumer groups under chaos: consumers killed at random while 10,000 events flow."""

from __future__ import annotations

import random

import trio
import trio.testing

from storage.consumer import consumer_group
from tests.ledger import DeliveryLedger

from .conftest import StartLog

EVENTS = 10_000
KEYS = 97
PARTITIONS = 16
MEMBERS = 4


async def test_every_acknowledged_event_is_applied_in_key_order_despite_kills(
    start_memory_log: StartLog, nursery: trio.Nursery
) -> None:
    rng = random.Random(20261124)
    ledger = DeliveryLedger()

    log, system = await start_memory_log({"events": PARTITIONS})
    await system.spawn(
        consumer_group(
            log,
            group="g",
            topic="events",
            members=MEMBERS,
            handler=ledger.apply,
            max_records=64,
            max_restarts=10_000,
        ),
        parent="root",
    )
    original_commit = log.commit

    async def tracking_commit(group: str, topic: str, partition: int, offset: int) -> None:
        await original_commit(group, topic, partition, offset)
        ledger.committed(partition, offset)

    log.commit = tracking_commit  # type: ignore[method-assign]

    publishing_done = trio.Event()

    kills = 0

    async def chaos() -> None:
        nonlocal kills
        members = [f"g.events.{i}" for i in range(MEMBERS)]
        while not publishing_done.is_set():
            for _ in range(rng.randrange(5, 80)):
                await trio.lowlevel.checkpoint()
            member = rng.randrange(MEMBERS)
            if system.state(members[member]) == "running":
                ledger.caught(range(member, PARTITIONS, MEMBERS))
                system.kill(members[member])
                kills += 1

    keys = [f"user{k}" for k in range(KEYS)]
    async with trio.open_nursery() as load:
        load.start_soon(chaos)
        async with trio.open_nursery() as publishers:
            for shard in range(8):
                publishers.start_soon(ledger.publish, log, "events", keys[shard::8], EVENTS // 8)
        publishing_done.set()
    await trio.testing.wait_all_tasks_blocked()  # consumers drain, then idle in fetch

    assert kills >= 50, "the chaos must actually have hit the consumers"
    ledger.assert_all_applied(EVENTS)
    assert ledger.redelivered(), "kills mid-batch must have caused some redelivery"
    assert await log.lag("g", "events") == [0] * PARTITIONS
    assert [await log.committed("g", "events", p) for p in range(PARTITIONS)] == (
        await log.end_offsets("events")
    )
    tree = system.tree()
    group_tree = next(c for c in tree["children"] if c["name"] == "g.events")
    assert sum(member["restarts"] for member in group_tree["children"]) == kills
    assert all(member["lag"] == 0 for member in group_tree["children"])
