"""What the embedded log adds to the contract: partition actors, retention."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import trio
import trio.testing

from storage.consumer import consumer_group
from storage.memory import Retention
from storage.partitioning import partition_for
from storage.protocols import LogUnavailable, Record

from .conftest import StartLog, WallClock

DAY = 24 * 3600.0


async def test_killing_a_partition_actor_loses_nothing_acknowledged(
    start_memory_log: StartLog, nursery: trio.Nursery
) -> None:
    log, system = await start_memory_log({"t": 2})
    partition = partition_for("k", 2)
    name = log.partition_name("t", partition)
    for n in range(10):
        await log.publish("t", "k", n)
    system.kill(name)
    await trio.testing.wait_all_tasks_blocked()
    assert system.restarts(name) == 1
    assert await log.publish("t", "k", 10) == (partition, 10)
    records = (await log.fetch("t", {partition: 0}, timeout=0)).records
    assert [r.value for r in records] == list(range(11))


async def test_an_append_in_flight_when_its_partition_dies_is_not_acknowledged(
    start_memory_log: StartLog, nursery: trio.Nursery
) -> None:
    log, system = await start_memory_log({"t": 1})
    failures: list[Exception] = []

    async def publish() -> None:
        try:
            await log.publish("t", "k", "lost")
        except LogUnavailable as exc:
            failures.append(exc)

    nursery.start_soon(publish)
    system.kill(log.partition_name("t", 0))  # dies before it takes the append
    await trio.testing.wait_all_tasks_blocked()
    # The append either failed loudly, or the restarted actor took it from the mailbox.
    records = (await log.fetch("t", {0: 0}, timeout=0)).records
    assert len(failures) + len(records) == 1


async def test_retention_by_age_drops_old_segments_and_readers_resume_at_the_start(
    start_memory_log: StartLog, autojump_clock: trio.testing.MockClock
) -> None:
    wall = WallClock()
    retention = Retention(max_age=7 * DAY, check_interval=60.0, segment_records=10)
    log, _ = await start_memory_log({"t": 1}, clock=wall, retention=retention)
    for n in range(25):  # segments [0..9] [10..19] [20..24]
        await log.publish("t", "k", n)
        if n == 19:
            wall.now += 3 * DAY
    wall.now += 5 * DAY  # the first two segments are 8 days old, the last 5
    await trio.sleep(61.0)  # the ticker runs
    records = (await log.fetch("t", {0: 3}, timeout=0)).records
    assert [r.offset for r in records] == [20, 21, 22, 23, 24]
    assert await log.lag("g", "t") == [5]
    wall.now += 3 * DAY
    await trio.sleep(61.0)
    assert (await log.fetch("t", {0: 0}, timeout=0)).records == []
    assert await log.publish("t", "k", "after") == (0, 25)


async def test_retention_by_size_keeps_the_newest_segments(start_memory_log: StartLog) -> None:
    record_bytes = 1 + 115  # the key "k" and the msgpack payload below
    per_segment = 3  # a segment rolls once it holds an eighth of max_bytes: 3 × 116 ≥ 250
    log, _ = await start_memory_log({"t": 1}, retention=Retention(max_bytes=2_000))
    for n in range(600):
        await log.publish("t", "k", {"n": f"{n:05}", "pad": "x" * 100})
    records = (await log.fetch("t", {0: 0}, timeout=0)).records
    assert records[-1].value["n"] == "00599"
    assert records[0].offset % per_segment == 0, "whole segments go"
    # Within the limit, and keeping one segment fewer would have been needlessly little.
    kept = len(records) * record_bytes
    assert kept <= 2_000 < kept + per_segment * record_bytes


async def test_a_consumer_serves_every_partition_when_one_fetch_cannot_hold_them_all(
    start_memory_log: StartLog, nursery: trio.Nursery
) -> None:
    log, system = await start_memory_log({"t": 20})
    keys: dict[int, int] = {}
    for key in range(1000):
        keys.setdefault(partition_for(key, 20), key)
    for _ in range(5):
        for key in keys.values():
            await log.publish("t", key, "x")
    batches: list[set[int]] = []

    async def apply(records: Sequence[Record]) -> None:
        batches.append({r.partition for r in records})

    await system.spawn(
        consumer_group(log, group="g", topic="t", members=1, handler=apply, max_records=10),
        parent="root",
    )
    await trio.testing.wait_all_tasks_blocked()
    assert len(batches) == 10, "100 events, 10 at a time"
    assert batches[0] | batches[1] == set(range(20)), "the second fetch serves the rest first"
    assert await log.lag("g", "t") == [0] * 20


async def test_partitions_and_positions_outside_the_log_are_refused(
    start_memory_log: StartLog,
) -> None:
    log, _ = await start_memory_log({"t": 2})
    await log.publish("t", "k", 1)
    for bad in (-1, 2):
        with pytest.raises(ValueError):
            await log.commit("g", "t", bad, 0)
        with pytest.raises(ValueError):
            await log.committed("g", "t", bad)
        with pytest.raises(ValueError):
            await log.fetch("t", {bad: 0}, timeout=0)
    with pytest.raises(ValueError, match="past the end"):
        await log.fetch("t", {partition_for("k", 2): 5})


async def test_partition_actors_describe_their_offsets(start_memory_log: StartLog) -> None:
    log, system = await start_memory_log({"t": 2})
    partition, _ = await log.publish("t", "k", "v")
    log_tree = system.tree()["children"][0]
    described = {c["name"]: c for c in log_tree["children"]}
    info = described[log.partition_name("t", partition)]
    assert (info["topic"], info["partition"], info["start_offset"], info["end_offset"]) == (
        "t",
        partition,
        0,
        1,
    )
    assert "log.retention" in described


async def test_a_consumer_reports_its_lag_before_it_applies_and_after_retention(
    start_memory_log: StartLog, nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    wall = WallClock()
    log, system = await start_memory_log(
        {"t": 1}, clock=wall, retention=Retention(max_age=DAY, check_interval=60.0)
    )
    for n in range(30):
        await log.publish("t", "k", n)
    release = trio.Event()

    async def slow_apply(records: Sequence[Record]) -> None:
        await release.wait()

    await system.spawn(
        consumer_group(log, group="g", topic="t", members=1, handler=slow_apply), parent="root"
    )
    await trio.testing.wait_all_tasks_blocked()

    def consumer_lag() -> int:
        group = next(c for c in system.tree()["children"] if c["name"] == "g.t")
        return group["children"][0]["lag"]

    assert consumer_lag() == 30, "stuck on its first batch, it shows what waits"
    for n in range(5):
        await log.publish("t", "k", n)
    wall.now += 2 * DAY
    await trio.sleep(61.0)  # retention drops all 35 while the consumer is still stuck
    release.set()
    await trio.testing.wait_all_tasks_blocked()
    assert await log.committed("g", "t", 0) == 30
    assert await log.lag("g", "t") == [0]
    await log.publish("t", "k", "fresh")
    await trio.testing.wait_all_tasks_blocked()
    assert await log.committed("g", "t", 0) == 36
    assert consumer_lag() == 0, "what retention removed is not lag"


def test_retention_limits_must_be_positive() -> None:
    for bad in ({"max_bytes": 0}, {"max_age": 0}, {"segment_records": 0}, {"check_interval": -1}):
        with pytest.raises(ValueError):
            Retention(**bad)  # type: ignore[arg-type]
