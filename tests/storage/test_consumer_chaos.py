"""Consumer groups under chaos: consumers killed at random while 10,000 events flow."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Sequence

import trio
import trio.testing

from storage.consumer import consumer_group
from storage.protocols import Record

from .conftest import StartLog

EVENTS = 10_000
KEYS = 97
PARTITIONS = 16
MEMBERS = 4


async def test_every_acknowledged_event_is_applied_in_key_order_despite_kills(
    start_memory_log: StartLog, nursery: trio.Nursery
) -> None:
    rng = random.Random(20261124)
    deliveries: Counter[tuple[str, int]] = Counter()
    first_seen: dict[str, list[int]] = defaultdict(list)
    redelivered_after_commit: list[Record] = []
    committed_so_far: dict[int, int] = defaultdict(int)

    # partition -> offset -> event, for what was delivered and not committed yet: the
    # events a kill may legitimately have delivered once more.
    in_flight: dict[int, dict[int, tuple[str, int]]] = defaultdict(dict)
    kills_in_flight: Counter[tuple[str, int]] = Counter()

    async def apply(records: Sequence[Record]) -> None:
        for record in records:
            if record.offset < committed_so_far[record.partition]:
                redelivered_after_commit.append(record)
            event = (record.key, record.value["seq"])
            in_flight[record.partition][record.offset] = event
            if event not in deliveries:
                first_seen[record.key].append(record.value["seq"])
            deliveries[event] += 1
            await trio.lowlevel.checkpoint()  # an apply takes time: kills land mid-batch

    log, system = await start_memory_log({"events": PARTITIONS})
    await system.spawn(
        consumer_group(
            log,
            group="g",
            topic="events",
            members=MEMBERS,
            handler=apply,
            max_records=64,
            max_restarts=10_000,
        ),
        parent="root",
    )
    original_commit = log.commit

    async def tracking_commit(group: str, topic: str, partition: int, offset: int) -> None:
        await original_commit(group, topic, partition, offset)
        committed_so_far[partition] = offset
        pending = in_flight[partition]
        for done in [o for o in pending if o < offset]:
            del pending[done]

    log.commit = tracking_commit  # type: ignore[method-assign]

    acknowledged: dict[str, list[int]] = defaultdict(list)
    publishing_done = trio.Event()

    async def publish(keys: list[str]) -> None:
        sequence = dict.fromkeys(keys, 0)
        for n in range(EVENTS // 8):
            key = keys[n % len(keys)]
            await log.publish("events", key, {"seq": sequence[key]})
            acknowledged[key].append(sequence[key])
            sequence[key] += 1

    kills = 0

    async def chaos() -> None:
        nonlocal kills
        members = [f"g.events.{i}" for i in range(MEMBERS)]
        while not publishing_done.is_set():
            for _ in range(rng.randrange(5, 80)):
                await trio.lowlevel.checkpoint()
            member = rng.randrange(MEMBERS)
            if system.state(members[member]) == "running":
                for partition in range(member, PARTITIONS, MEMBERS):
                    kills_in_flight.update(in_flight[partition].values())
                system.kill(members[member])
                kills += 1

    keys = [f"user{k}" for k in range(KEYS)]
    async with trio.open_nursery() as load:
        load.start_soon(chaos)
        async with trio.open_nursery() as publishers:
            for shard in range(8):
                publishers.start_soon(publish, keys[shard::8])
        publishing_done.set()
    await trio.testing.wait_all_tasks_blocked()  # consumers drain, then idle in fetch

    assert kills >= 50, "the chaos must actually have hit the consumers"
    assert sum(len(seqs) for seqs in acknowledged.values()) == EVENTS
    assert dict(first_seen) == dict(acknowledged), "all applied, each key in publish order"
    assert redelivered_after_commit == [], "nothing committed is ever delivered again"
    extra = {event: n - 1 for event, n in deliveries.items() if n > 1}
    assert extra, "kills mid-batch must have caused some redelivery"
    assert all(n <= kills_in_flight[event] for event, n in extra.items()), (
        "an event is delivered again at most once per kill that caught it in flight"
    )
    assert await log.lag("g", "events") == [0] * PARTITIONS
    assert [await log.committed("g", "events", p) for p in range(PARTITIONS)] == (
        await log.end_offsets("events")
    )
    tree = system.tree()
    group_tree = next(c for c in tree["children"] if c["name"] == "g.events")
    assert sum(member["restarts"] for member in group_tree["children"]) == kills
    assert all(member["lag"] == 0 for member in group_tree["children"])
