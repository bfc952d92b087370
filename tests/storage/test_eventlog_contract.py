"""The `EventLog` contract, run against every backend."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from storage.partitioning import partition_for
from storage.protocols import EventLog, UnknownTopic


async def test_publish_acknowledges_with_the_keys_partition_and_next_offset(
    event_log: EventLog,
) -> None:
    acks = [await event_log.publish("tweets", "user-7", {"n": n}) for n in range(3)]
    partition = partition_for("user-7", 8)
    assert acks == [(partition, 0), (partition, 1), (partition, 2)]
    assert (await event_log.end_offsets("tweets"))[partition] == 3


async def test_fetch_returns_events_decoded_in_offset_order(event_log: EventLog) -> None:
    event = {"tweet_id": "123", "tags": ["a", "b"], "n": 1, "nested": {"x": None, 1: True}}
    partition, _ = await event_log.publish("tweets", 42, event)
    await event_log.publish("tweets", 42, {"n": 2})
    records, ends, starts = await event_log.fetch("tweets", {partition: 0}, timeout=0)
    assert [r.value for r in records] == [event, {"n": 2}]
    assert [(r.topic, r.partition, r.offset, r.key) for r in records] == [
        ("tweets", partition, 0, "42"),
        ("tweets", partition, 1, "42"),
    ]
    assert records[0].timestamp <= records[1].timestamp
    assert (ends, starts) == ({partition: 2}, {partition: 0})
    tail = (await event_log.fetch("tweets", {partition: 1}, timeout=0)).records
    assert [r.offset for r in tail] == [1]


async def test_events_of_one_key_keep_their_order(event_log: EventLog) -> None:
    for n in range(50):
        await event_log.publish("tweets", f"k{n % 5}", {"key": f"k{n % 5}", "n": n})
    seen: dict[str, list[int]] = {}
    records = (await event_log.fetch("tweets", {p: 0 for p in range(8)}, timeout=0)).records
    for record in records:
        seen.setdefault(record.key, []).append(record.value["n"])
    assert seen == {f"k{k}": list(range(k, 50, 5)) for k in range(5)}


async def test_fetch_shares_max_records_fairly_between_partitions(event_log: EventLog) -> None:
    busy, quiet = "busy", "quiet"
    assert partition_for(busy, 8) != partition_for(quiet, 8)
    for n in range(100):
        await event_log.publish("tweets", busy, n)
    await event_log.publish("tweets", quiet, "hello")
    positions = {partition_for(busy, 8): 0, partition_for(quiet, 8): 0}
    records = (await event_log.fetch("tweets", positions, max_records=10, timeout=0)).records
    assert len(records) == 10
    assert "hello" in [r.value for r in records]


async def test_fetch_waits_for_the_next_event(event_log: EventLog, nursery: trio.Nursery) -> None:
    got: list[object] = []

    async def consume() -> None:
        records = (await event_log.fetch("likes", {p: 0 for p in range(4)})).records
        got.extend(r.value for r in records)

    nursery.start_soon(consume)
    await trio.testing.wait_all_tasks_blocked()
    assert got == []
    await event_log.publish("likes", "u1", "first")
    await trio.testing.wait_all_tasks_blocked()
    assert got == ["first"]


async def test_fetch_with_a_timeout_returns_empty_when_nothing_comes(
    event_log: EventLog, autojump_clock: trio.testing.MockClock
) -> None:
    records, ends, _ = await event_log.fetch("likes", {0: 0, 1: 0}, timeout=2.5)
    assert records == [] and ends == {0: 0, 1: 0}
    assert trio.current_time() == pytest.approx(2.5)


async def test_groups_commit_independently_and_lag_counts_the_rest(event_log: EventLog) -> None:
    partition, _ = await event_log.publish("likes", "u", 1)
    for n in range(2, 6):
        await event_log.publish("likes", "u", n)
    assert await event_log.committed("fanout", "likes", partition) == 0
    await event_log.commit("fanout", "likes", partition, 3)
    assert await event_log.committed("fanout", "likes", partition) == 3
    assert await event_log.committed("search", "likes", partition) == 0
    lag = await event_log.lag("fanout", "likes")
    assert lag[partition] == 2 and sum(lag) == 2
    assert sum(await event_log.lag("search", "likes")) == 5
    with pytest.raises(ValueError):
        await event_log.commit("fanout", "likes", partition, 99)


async def test_unknown_topics_are_refused(event_log: EventLog) -> None:
    with pytest.raises(UnknownTopic):
        await event_log.publish("nope", "k", 1)
    with pytest.raises(UnknownTopic):
        await event_log.fetch("nope", {0: 0}, timeout=0)
    with pytest.raises(UnknownTopic):
        await event_log.lag("g", "nope")


async def test_unserialisable_events_are_refused_before_anything_is_appended(
    event_log: EventLog,
) -> None:
    with pytest.raises(TypeError):
        await event_log.publish("tweets", "k", {"when": object()})
    assert sum(await event_log.end_offsets("tweets")) == 0
