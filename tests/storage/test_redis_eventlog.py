"""What the Redis log adds to the contract: consumer groups on Streams, pending entries taken
over from consumers that died, trimming that keeps what groups have not committed, and
partition leases shared between processes.

Every test runs against the real server (`servers.redis_url`) under a key prefix of its
own, deleted afterwards. Lease expiry is Redis's real clock, so these tests use short real
TTLs, bounded by ``trio.fail_after``, and wait on conditions rather than for time.
"""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from coredis.tokens import PureToken

from actors import ActorSystem, ActorUnavailable, SupervisorSpec
from storage.consumer import consumer_group
from storage.partitioning import partition_for
from storage.protocols import LeaseLost, LogUnavailable, Record
from storage.redis import eventlog
from storage.redis.client import open_redis
from storage.redis.eventlog import RedisEventLog, RedisGroupMember, StreamRetention
from storage.redis.leases import LeaseTerms, PartitionLeases, lease_key
from tests.backends import scratch_name
from tests.ledger import DeliveryLedger
from tests.servers import Servers

from .conftest import WallClock

DAY = 24 * 3600.0


async def test_a_dropped_group_holds_trimming_back_no_more(scratch: Scratch) -> None:
    log = scratch.log({"t": 2, "u": 1}, leases=None, retention=StreamRetention(max_entries=0))
    for seq in range(5):
        await log.publish("t", "k", {"seq": seq})
    await log.commit("gone", "t", partition_for("k", 2), 1)
    assert await log.enforce_retention() == 1, "held at the group's offset"
    await log.drop_group("gone")  # "u" never had a stream: nothing to do there
    assert await log.enforce_retention() == 4
    assert await log.committed("gone", "t", partition_for("k", 2)) == 0


class Scratch:
    """A client and a key prefix of this test's own."""

    def __init__(self, client: Any, prefix: str, url: str) -> None:
        self.client = client
        self.prefix = prefix
        self.url = url

    def log(self, topics: dict[str, int], **options: Any) -> RedisEventLog:
        return RedisEventLog(self.client, topics, prefix=self.prefix, **options)


@pytest.fixture
async def scratch(servers: Servers) -> AsyncIterator[Scratch]:
    prefix = scratch_name("test") + ":"
    async with open_redis(servers.redis_url) as client:
        try:
            yield Scratch(client, prefix, servers.redis_url)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(keys)


@asynccontextmanager
async def running(log: RedisEventLog, *groups: SupervisorSpec) -> AsyncIterator[ActorSystem]:
    """A chirp process's log actors and ``groups``, stopped in order on the way out."""
    await log.prepare()
    system = ActorSystem(SupervisorSpec("root", [log.supervisor_spec(), *groups]))
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        yield system
        nursery.cancel_scope.cancel()


async def wait_until(condition: Callable[[], Awaitable[bool]], step: float = 0.02) -> None:
    """Until ``condition`` holds, looking again every ``step`` seconds: for state only the
    server knows (leases running out on its clock). Callers bound it with ``fail_after``."""
    while not await condition():
        await trio.sleep(step)


class Applied:
    """What a handler saw, and an event for when it has seen ``wanted`` distinct events."""

    def __init__(self, wanted: int) -> None:
        self.order: list[tuple[str, int]] = []  # (key, seq), every application
        self.wanted = wanted
        self.all_seen = trio.Event()

    def record(self, records: Sequence[Record]) -> None:
        self.order.extend((r.key, r.value["seq"]) for r in records)
        if len(set(self.order)) >= self.wanted:
            self.all_seen.set()


# -- consumer groups ------------------------------------------------------------------------


async def test_a_killed_consumer_applies_its_pending_batch_again_before_anything_newer(
    scratch: Scratch,
) -> None:
    log = scratch.log({"t": 2})
    partition = partition_for("k", 2)
    for seq in range(10):
        await log.publish("t", "k", {"seq": seq})
    applied = Applied(wanted=15)
    stuck = trio.Event()

    async def apply(records: Sequence[Record]) -> None:
        applied.record(records)
        if not stuck.is_set():
            stuck.set()
            await trio.sleep_forever()  # the first batch never finishes: it is killed

    group = consumer_group(log, group="g", topic="t", members=1, handler=apply, max_records=4)
    async with running(log, group) as system:
        with trio.fail_after(10):
            await stuck.wait()
            assert await log.committed("g", "t", partition) == 0, "read, not committed"
            system.kill("g.t.0")
            for seq in range(10, 15):
                await log.publish("t", "k", {"seq": seq})
            await applied.all_seen.wait()
            await wait_until(lambda: committed_all(log, "g", "t"))
        assert system.restarts("g.t.0") == 1
    seqs = [seq for _, seq in applied.order]
    assert seqs == [0, 1, 2, 3] + list(range(15)), "the pending batch again, then the rest"


async def committed_all(log: RedisEventLog, group: str, topic: str) -> bool:
    return sum(await log.lag(group, topic)) == 0


async def test_another_process_claims_a_dead_consumers_pending_entries_first(
    scratch: Scratch,
) -> None:
    """XAUTOCLAIM: the entries pending for process A's consumer become B's, and B applies
    them before anything newer, so the key's order holds."""
    for seq in range(6):
        await scratch.log({"t": 1}).publish("t", "k", {"seq": seq})
    log_a = scratch.log({"t": 1}, leases=None, process="A")
    stuck = trio.Event()

    async def apply_a(records: Sequence[Record]) -> None:
        stuck.set()
        await trio.sleep_forever()

    group_a = consumer_group(log_a, group="g", topic="t", members=1, handler=apply_a, max_records=4)
    async with running(log_a, group_a):
        with trio.fail_after(10):
            await stuck.wait()
    pending = await scratch.client.xpending(log_a.stream_key("t", 0), "g")
    assert pending.pending == 4 and set(pending.consumers) == {b"A:g.t.0"}

    log_b = scratch.log({"t": 1}, leases=None, process="B")
    for seq in range(6, 9):
        await log_b.publish("t", "k", {"seq": seq})
    applied = Applied(wanted=9)

    async def apply_b(records: Sequence[Record]) -> None:
        applied.record(records)

    group_b = consumer_group(log_b, group="g", topic="t", members=1, handler=apply_b, max_records=4)
    async with running(log_b, group_b):
        with trio.fail_after(10):
            await applied.all_seen.wait()
            await wait_until(lambda: committed_all(log_b, "g", "t"))
    assert [seq for _, seq in applied.order] == list(range(9))
    consumers = await scratch.client.xinfo_consumers(log_b.stream_key("t", 0), "g")
    assert [c[b"name"] for c in consumers] == [b"B:g.t.0"], "the dead consumer is forgotten"


async def test_a_groups_committed_offset_is_its_oldest_pending_entry(scratch: Scratch) -> None:
    log = scratch.log({"t": 1}, leases=None)
    for seq in range(8):
        await log.publish("t", "k", {"seq": seq})
    async with log.join("g", "t", [0], member="m") as member:
        batch = await member.poll(max_records=5)
        assert [r.offset for r in batch] == [0, 1, 2, 3, 4]
        assert member.lag == 8, "what waits behind the batch, the batch included"
        assert await log.committed("g", "t", 0) == 0
        assert await log.lag("g", "t") == [8]
        await member.commit(batch[:2])
        assert await log.committed("g", "t", 0) == 2
        assert member.lag == 6
        await member.commit(batch[2:])
        assert await log.committed("g", "t", 0) == 5
        rest = await member.poll(max_records=5)
        assert [r.value["seq"] for r in rest] == [5, 6, 7]
        await member.commit(rest)
    assert await log.committed("g", "t", 0) == 8 and await log.lag("g", "t") == [0]
    await log.commit("g", "t", 0, 3)  # a group can be moved back, as in Kafka
    assert await log.committed("g", "t", 0) == 3
    async with log.join("g", "t", [0], member="m") as member:
        assert [r.offset for r in await member.poll()] == [3, 4, 5, 6, 7]


async def test_a_member_serves_every_partition_when_one_poll_cannot_hold_them_all(
    scratch: Scratch,
) -> None:
    log = scratch.log({"t": 6}, leases=None)
    keys: dict[int, int] = {}
    for key in range(1000):
        keys.setdefault(partition_for(key, 6), key)
    for seq in range(5):
        for key in keys.values():
            await log.publish("t", key, {"seq": seq})
    async with log.join("g", "t", range(6), member="m") as member:
        first = await member.poll(max_records=4)  # fewer records than partitions
        await member.commit(first)
        second = await member.poll(max_records=4)
        await member.commit(second)
    assert len(first) == len(second) == 4
    served = {r.partition for r in first} | {r.partition for r in second}
    assert served == set(range(6)), "the second poll serves the others first"


async def test_a_failed_wait_leaves_no_blocked_read_on_a_pooled_connection(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = scratch.log({"t": 2})
    await log.prepare()
    monkeypatch.setattr(eventlog, "READ_RANGE", "return redis.error_reply('BROKEN read')")
    with pytest.raises(LogUnavailable, match="BROKEN"):
        await log.fetch("t", {0: 0, 1: 0}, timeout=60)  # its XREAD was queued behind
    monkeypatch.undo()
    with trio.fail_after(5):  # not 60: the connection holding that XREAD is gone
        assert await log.publish("t", "k", {"seq": 0}) == (partition_for("k", 2), 0)


# -- retention --------------------------------------------------------------------------------


async def test_trimming_never_drops_what_a_group_has_not_committed(scratch: Scratch) -> None:
    wall = WallClock()
    retention = StreamRetention(max_age=DAY, max_entries=0)  # keep nothing it need not keep
    log = scratch.log({"t": 1}, leases=None, retention=retention, clock=wall)
    for seq in range(10):
        await log.publish("t", "k", {"seq": seq})
    wall.now += 2 * DAY
    async with log.join("g", "t", [0], member="m") as member:
        batch = await member.poll(max_records=4)  # offsets 0..3 pending
        assert await log.enforce_retention() == 0
        start = (await log.fetch("t", {0: 0}, timeout=0)).start_offsets[0]
        assert start == 0, "a pending entry is never trimmed"
        await member.commit(batch[:3])
        assert await log.enforce_retention() == 3
        records = (await log.fetch("t", {0: 0}, timeout=0)).records
        assert [r.offset for r in records] == list(range(3, 10)), "from the oldest pending"
        await member.commit(batch[3:])
        assert await log.enforce_retention() == 1, "not what the group has yet to read"
        rest = await member.poll(max_records=10)
        assert [r.value["seq"] for r in rest] == [4, 5, 6, 7, 8, 9]
        await member.commit(rest)
    await log.commit("late", "t", 0, 7)  # a second group, further behind
    assert await log.enforce_retention() == 3
    assert (await log.fetch("t", {0: 0}, timeout=0)).start_offsets[0] == 7
    await log.commit("late", "t", 0, 10)
    assert await log.enforce_retention() == 3
    assert await log.end_offsets("t") == [10]
    assert await log.publish("t", "k", {"seq": 10}) == (0, 10), "offsets go on"


async def test_retention_by_age_and_by_length(scratch: Scratch) -> None:
    wall = WallClock()
    log = scratch.log(
        {"t": 1}, retention=StreamRetention(max_age=7 * DAY, max_entries=15), clock=wall
    )
    for seq in range(25):
        await log.publish("t", "k", {"seq": seq})
        if seq == 11:
            wall.now += 3 * DAY
    assert await log.enforce_retention() == 10, "beyond the newest 15"
    wall.now += 5 * DAY  # offsets 0..11 are 8 days old, the rest 5
    assert await log.enforce_retention() == 2
    fetched = await log.fetch("t", {0: 3}, timeout=0)
    assert [r.offset for r in fetched.records] == list(range(12, 25))
    assert (fetched.start_offsets, fetched.end_offsets) == ({0: 12}, {0: 25})
    assert await log.lag("g", "t") == [13]
    wall.now += 3 * DAY
    assert await log.enforce_retention() == 13
    assert (await log.fetch("t", {0: 0}, timeout=0)).records == []
    assert await log.publish("t", "k", {"seq": 25}) == (0, 25)


# -- leases ------------------------------------------------------------------------------------


def keeper(scratch: Scratch, token: str, partitions: Sequence[int], ttl: float) -> PartitionLeases:
    return PartitionLeases(
        scratch.client,
        prefix=scratch.prefix,
        group="g",
        topic="t",
        member="g.t.0",
        partitions=list(partitions),
        token=token,
        terms=LeaseTerms(ttl=ttl),
    )


async def changed(leases: PartitionLeases, condition: Callable[[], bool]) -> None:
    """Until ``condition`` holds, waking whenever ``leases``' holdings change."""
    while not condition():
        wake = trio.Event()
        leases.waiters.add(wake)
        await wake.wait()


async def test_leases_are_shared_fairly_and_taken_over_when_a_holder_stops_renewing(
    scratch: Scratch,
) -> None:
    partitions = range(8)
    a, b = (keeper(scratch, token, partitions, ttl=1.0) for token in ("A", "B"))
    async with trio.open_nursery() as process_b:
        async with trio.open_nursery() as process_a:
            await process_a.start(a.run)
            assert set(a.held) == set(partitions), "alone, it takes them all"
            await process_b.start(b.run)
            assert b.held == {}, "nothing is free yet"
            with trio.fail_after(5):
                await changed(a, lambda: len(a.surplus) == 4)  # A sees B at its next round
                await a.release(sorted(a.surplus))  # a member does this between batches
                await changed(b, lambda: len(b.held) == 4)
            assert set(a.held).isdisjoint(b.held)
            assert set(a.held) | set(b.held) == set(partitions)
            keys = {p: lease_key(scratch.prefix, "g", "t", p) for p in partitions}
            holders = {p: await scratch.client.get(key) for p, key in keys.items()}
            assert holders == {p: b"A" if p in a.held else b"B" for p in partitions}
            process_a.cancel_scope.cancel()  # A dies: it stops renewing, releases nothing
        with trio.fail_after(5):
            await changed(b, lambda: len(b.held) == 8)
        process_b.cancel_scope.cancel()
    await b.leave()
    assert await scratch.client.exists(list(keys.values())) == 0, "an orderly stop releases"


async def test_a_member_that_lost_its_lease_can_neither_commit_nor_read_on(
    scratch: Scratch,
) -> None:
    log = scratch.log({"t": 1}, leases=LeaseTerms(ttl=1.5), process="A")
    for seq in range(3):
        await log.publish("t", "k", {"seq": seq})
    key = lease_key(scratch.prefix, "g", "t", 0)
    with pytest.RaisesGroup(LeaseLost, allow_unwrapped=True, flatten_subgroups=True):
        async with log.join("g", "t", [0], member="g.t.0") as member:
            batch = await member.poll()
            assert [r.offset for r in batch] == [0, 1, 2]
            # Another process took the partition while A stalled past its lease.
            await scratch.client.set(key, "B")
            with pytest.raises(LeaseLost):
                await member.commit(batch)
            with pytest.raises(LeaseLost):
                await member.poll()
            await trio.sleep_forever()  # A's keeper notices at its next renewal
    assert await log.committed("g", "t", 0) == 0, "nothing A read was committed"


# -- chaos -------------------------------------------------------------------------------------

EVENTS = 2_000
KEYS = 61
PARTITIONS = 8
MEMBERS = 4


async def test_every_acknowledged_event_is_applied_in_key_order_despite_kills(
    scratch: Scratch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_consumer_chaos's kill test on the Redis log: consumers are killed at random
    while events flow, in the middle of reads, applies and acknowledgements."""
    rng = random.Random(20261125)
    log = scratch.log({"events": PARTITIONS}, leases=LeaseTerms(ttl=5.0))
    ledger = DeliveryLedger()
    drained = trio.Event()

    original_commit = RedisGroupMember.commit

    async def tracking_commit(member: RedisGroupMember, records: Sequence[Record]) -> None:
        await original_commit(member, records)
        for record in records:
            ledger.committed(record.partition, record.offset + 1)
        if len(ledger.deliveries) == EVENTS and sum(ledger.committed_so_far.values()) == EVENTS:
            drained.set()

    monkeypatch.setattr(RedisGroupMember, "commit", tracking_commit)
    group = consumer_group(
        log, group="g", topic="events", members=MEMBERS, handler=ledger.apply, max_records=32,
        max_restarts=10_000,
    )  # fmt: skip
    kills = 0

    killed: set[tuple[str, int]] = set()  # (member, incarnation)

    async def chaos(system: ActorSystem, done: trio.Event) -> None:
        nonlocal kills
        members = [f"g.events.{i}" for i in range(MEMBERS)]
        while not done.is_set():
            await trio.sleep(rng.uniform(0.002, 0.03))  # the chaos's own schedule
            member = rng.randrange(MEMBERS)
            incarnation = (members[member], system.restarts(members[member]))
            if system.state(members[member]) == "running" and incarnation not in killed:
                ledger.caught(range(member, PARTITIONS, MEMBERS))
                try:
                    system.kill(members[member])
                except ActorUnavailable:
                    continue
                killed.add(incarnation)
                kills += 1

    keys = [f"user{k}" for k in range(KEYS)]
    async with running(log, group) as system:
        with trio.fail_after(20):
            publishing_done = trio.Event()
            async with trio.open_nursery() as load:
                load.start_soon(chaos, system, publishing_done)
                async with trio.open_nursery() as publishers:
                    for shard in range(8):
                        publishers.start_soon(
                            ledger.publish, log, "events", keys[shard::8], EVENTS // 8
                        )
                publishing_done.set()
            await drained.wait()

            async def all_back() -> bool:
                restarted = Counter({name: system.restarts(name) for name, _ in killed})
                return restarted == Counter(name for name, _ in killed) and all(
                    system.state(name) == "running" for name in restarted
                )

            await wait_until(all_back)  # the last kills land once their requests end
        tree = system.tree()
    assert kills >= 10, "the chaos must actually have hit the consumers"
    ledger.assert_all_applied(EVENTS)
    assert await log.lag("g", "events") == [0] * PARTITIONS
    group_tree = next(c for c in tree["children"] if c["name"] == "g.events")
    assert sum(member["restarts"] for member in group_tree["children"]) == kills


# -- two processes -----------------------------------------------------------------------------

TWO_PROCESS_PARTITIONS = 8
STALL_AFTER = 60  # process A stops in the middle of a batch once it has applied this many


def serve(argv: Sequence[str]) -> None:
    """A chirp process for the two-process test: the log and a consumer group whose handler
    appends what it applies to a Redis list. ``stall_after`` > 0: once it has applied that
    many events it announces a stall and hangs inside its batch (uncommitted) until killed.
    Run as ``python -c 'from tests.storage.test_redis_eventlog import serve; serve(...)'``."""
    url, prefix, name, ttl, stall_after = argv
    trio.run(_serve, url, prefix, name, float(ttl), int(stall_after))


async def _serve(url: str, prefix: str, name: str, ttl: float, stall_after: int) -> None:
    async with open_redis(url) as client:
        log = RedisEventLog(
            client,
            {"events": TWO_PROCESS_PARTITIONS},
            prefix=prefix,
            leases=LeaseTerms(ttl=ttl),
            process=name,
        )
        applied = 0

        async def apply(records: Sequence[Record]) -> None:
            nonlocal applied
            lines = [f"{name}|{r.partition}|{r.offset}|{r.key}|{r.value['seq']}" for r in records]
            await client.rpush(f"{prefix}applied", lines)
            applied += len(records)
            if stall_after and applied >= stall_after:
                await client.rpush(f"{prefix}applied", [f"{name}|stalled"])
                await trio.sleep_forever()

        group = consumer_group(
            log, group="g", topic="events", members=2, handler=apply, max_records=16
        )
        async with running(log, group):
            print("ready", flush=True)
            await trio.sleep_forever()


@asynccontextmanager
async def chirp_process(
    scratch: Scratch, name: str, ttl: float, stall_after: int = 0
) -> AsyncIterator[trio.Process]:
    code = "import sys; from tests.storage.test_redis_eventlog import serve; serve(sys.argv[1:])"
    args = [sys.executable, "-c", code, scratch.url, scratch.prefix, name, str(ttl)]
    async with trio.open_nursery() as nursery:
        process = await nursery.start(
            lambda task_status: trio.run_process(
                [*args, str(stall_after)],
                stdout=subprocess.PIPE,
                check=False,
                cwd=Path(__file__).resolve().parents[2],
                task_status=task_status,
            )
        )
        try:
            assert process.stdout is not None
            ready = b""
            while not ready.endswith(b"\n"):
                chunk = await process.stdout.receive_some()
                assert chunk, f"{name} ended before it was ready"
                ready += chunk
            assert ready == b"ready\n"
            yield process
        finally:
            process.kill()


async def test_two_processes_share_the_partitions_and_one_takes_over_when_the_other_dies(
    scratch: Scratch,
) -> None:
    """Two chirp processes form one consumer group: each partition is applied by one of them
    at a time; when A dies in the middle of a batch (killed, its leases left to run out), B
    takes its partitions over, applies A's uncommitted batch again, then what came after:
    no event lost, each key in order."""
    client, prefix = scratch.client, scratch.prefix
    log = scratch.log({"events": TWO_PROCESS_PARTITIONS})
    acknowledged: dict[str, list[int]] = defaultdict(list)
    applications: list[tuple[str, int, int, str, int]] = []
    keys = [f"user{k}" for k in range(40)]
    sequence = dict.fromkeys(keys, 0)

    async def publish(n: int) -> None:
        for i in range(n):
            key = keys[i % len(keys)]
            await log.publish("events", key, {"seq": sequence[key]})
            acknowledged[key].append(sequence[key])
            sequence[key] += 1

    async def collect_until(done: Callable[[], bool]) -> None:
        while not done():
            popped = await client.blmpop([f"{prefix}applied"], 1, PureToken.LEFT, count=1000)
            for line in popped[1] if popped else ():
                fields = line.decode().split("|")
                if fields[1] == "stalled":
                    stalled.add(fields[0])
                else:
                    name, partition, offset, key, seq = fields
                    applications.append((name, int(partition), int(offset), key, int(seq)))

    stalled: set[str] = set()

    async def both_hold_partitions() -> bool:
        holders = {
            await client.get(lease_key(prefix, "g", "events", p))
            for p in range(TWO_PROCESS_PARTITIONS)
        }
        return holders == {b"A", b"B"}

    with trio.fail_after(20):
        async with chirp_process(scratch, "B", ttl=1.0):
            async with chirp_process(scratch, "A", ttl=1.0, stall_after=STALL_AFTER) as a:
                # Both hold some partitions before events flow (leases on Redis's clock).
                await wait_until(both_hold_partitions)
                await publish(400)
                await collect_until(lambda: "A" in stalled)
                a.kill()  # A dies inside a batch it applied and never committed
                await a.wait()
            await publish(400)
            total = sum(len(seqs) for seqs in acknowledged.values())
            await collect_until(lambda: len({(a[3], a[4]) for a in applications}) == total)
            await wait_until(lambda: committed_all(log, "g", "events"))

    first_seen: dict[str, list[int]] = defaultdict(list)
    seen: set[tuple[str, int]] = set()
    for _, _, _, key, seq in applications:
        if (key, seq) not in seen:
            seen.add((key, seq))
            first_seen[key].append(seq)
    assert dict(first_seen) == dict(acknowledged), "none lost, each key in publish order"
    by_partition: dict[int, list[str]] = defaultdict(list)
    for name, partition, *_ in applications:
        by_partition[partition].append(name)
    assert {names[-1] for names in by_partition.values()} == {"B"}, "B holds them all now"
    assert {"A", "B"} <= {name for names in by_partition.values() for name in names}
    for names in by_partition.values():
        handovers = sum(1 for x, y in zip(names, names[1:], strict=False) if x != y)
        assert handovers <= 2, "a partition moves when a process joins or dies, no more"
    counts = Counter((key, seq) for _, _, _, key, seq in applications)
    again = {event for event, n in counts.items() if n > 1}
    assert again, "A's uncommitted batch is applied again"
    for event in again:
        assert [a[0] for a in applications if (a[3], a[4]) == event] == ["A", "B"], (
            "only what A applied and never committed is applied again, by B"
        )
