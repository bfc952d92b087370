"""The embedded stores kept durable: journaled calls, the records codec, and recovery from
a snapshot and the journal after it, for every store, checked against the live state."""

from __future__ import annotations

import os
import random
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st
from trio.testing import MockClock

from actors import ActorSystem, SupervisorSpec
from chirp.model import Notification, NotificationPreferences, Trend, Tweet, TweetVersion, User
from storage.durable import (
    DurableStores,
    Journal,
    RecoveryFailed,
    latest_snapshot,
    records_codec,
    snapshot_seqs,
    write_snapshot,
)
from storage.durable.horizon import MARK_EVERY, marks_needed
from storage.durable.journaled import Suspended, journal_calls, replay
from storage.durable.stores import SNAPSHOT_IF_DUE
from storage.memory import (
    MemoryEngagementStore,
    MemoryEventLog,
    MemoryGraphStore,
    MemoryNotificationStore,
    MemoryTrendStore,
    MemoryTweetStore,
    MemoryUserStore,
    Retention,
)
from storage.memory.partition import ENFORCE_RETENTION
from storage.protocols import Duplicate, LogUnavailable, TweetTags

from .conftest import WallClock

TOPICS = {"tweets": 3, "likes": 2}
START = datetime(2026, 1, 1, tzinfo=UTC)


# --- the codec ---------------------------------------------------------------------------

RECORDS = [
    User(1, "ana", "ana@example.org", "Ana", START, bio="hi", region="uk"),
    Tweet(7, 1, "hi #x", START, hashtags=("x",), mentions=("bo",), edited_at=START),
    TweetVersion("old", (), ("bo",), (), START),
    Notification(9, 2, "like", 1, 7, START, "like:7:1"),
    NotificationPreferences(frozenset({"like"}), only_following=True),
    Trend("x", 1500.0, 3, 1_700_000_000.5),
    TweetTags(7, 3, 1, 1_700_000_000.25, ("x", "y")),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_the_records_codec_brings_every_record_back_as_it_was(record: Any) -> None:
    codec = records_codec()
    back = codec.unpack(codec.pack({"nested": [record, (record,)]}))
    assert back == {"nested": [record, (record,)]}
    assert type(back["nested"][0]) is type(record) and type(back["nested"][1]) is tuple


INTEGERS = st.integers(-(2**63), 2**64 - 1)  # what msgpack holds


@given(
    st.recursive(
        st.none() | st.booleans() | INTEGERS | st.text() | st.binary(),
        lambda inner: (
            st.lists(inner)
            | st.tuples(inner, inner)
            | st.frozensets(INTEGERS)
            | st.dictionaries(st.text() | INTEGERS, inner)
        ),
        max_leaves=20,
    )
)
def test_the_records_codec_keeps_tuples_sets_and_maps_apart(value: Any) -> None:
    codec = records_codec()
    back = codec.unpack(codec.pack(value))
    assert back == value and _shape(back) == _shape(value)


def _shape(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return (type(value), [_shape(v) for v in value])
    if isinstance(value, dict):
        return (dict, {k: _shape(v) for k, v in value.items()})
    return type(value)


def test_datetimes_keep_their_instant_and_offset() -> None:
    codec = records_codec()
    for moment in (
        START,
        datetime(2026, 5, 4, 3, 2, 1, 123456),
        datetime(2026, 5, 4, 3, 2, 1, 9, tzinfo=timezone(timedelta(hours=-5))),
    ):
        back = codec.unpack(codec.pack(moment))
        assert back == moment and back.utcoffset() == moment.utcoffset()
    assert codec.unpack(codec.pack(START)).tzinfo is UTC


def test_anything_else_is_refused_when_packed() -> None:
    with pytest.raises(TypeError):
        records_codec().pack(object())


# --- journaled calls ---------------------------------------------------------------------


class Sink:
    """A journal in a list: every entry encoded and decoded as the real one does."""

    def __init__(self) -> None:
        self.codec = records_codec()
        self.entries: list[Any] = []
        self.durable_asked: list[int] = []

    def encode(self, value: Any) -> bytes:
        return self.codec.pack(value)

    def append_encoded(self, payload: bytes) -> int:
        self.entries.append(self.codec.unpack(payload))
        return len(self.entries)

    @property
    def next_seq(self) -> int:
        return len(self.entries) + 1

    async def durable(self, seq: int) -> None:
        self.durable_asked.append(seq)
        await trio.lowlevel.checkpoint()


class Counter:
    MUTATIONS = ("add", "add_all", "fail", "slow")

    def __init__(self) -> None:
        self.total = 0

    async def add(self, n: int, *, times: int = 1) -> int:
        self.total += n * times
        return self.total

    def add_all(self, numbers: Any) -> None:
        self.total += sum(numbers)

    async def fail(self) -> None:
        raise ValueError("refused before changing anything")

    async def slow(self) -> None:
        await trio.lowlevel.checkpoint()
        self.total += 1000


async def test_a_journaled_call_applies_then_records_then_waits_for_its_entry() -> None:
    counter, sink = Counter(), Sink()
    journal_calls(counter, "counter", sink, Counter.MUTATIONS)
    assert await counter.add(2, times=3) == 6
    assert sink.entries == [["counter", "add", [2], {"times": 3}]]
    assert sink.durable_asked == [1]
    assert Counter().total == 0 and type(counter).add is Counter.add, "only this instance"


async def test_a_call_that_raises_is_not_journaled() -> None:
    counter, sink = Counter(), Sink()
    journal_calls(counter, "counter", sink, Counter.MUTATIONS)
    with pytest.raises(ValueError):
        await counter.fail()
    assert sink.entries == []


async def test_a_method_that_awaits_before_it_finishes_cannot_be_journaled() -> None:
    counter, sink = Counter(), Sink()
    journal_calls(counter, "counter", sink, Counter.MUTATIONS)
    with pytest.raises(Suspended):
        await counter.slow()
    assert sink.entries == [] and counter.total == 0


async def test_iterators_are_listed_once_for_the_store_and_the_journal() -> None:
    counter, sink = Counter(), Sink()
    journal_calls(counter, "counter", sink, Counter.MUTATIONS)
    counter.add_all(n for n in (1, 2, 3))
    assert counter.total == 6
    assert sink.entries == [["counter", "add_all", [[1, 2, 3]], {}]]
    replayed = Counter()
    for entry in sink.entries:
        replay({"counter": replayed}, entry)
    assert replayed.total == 6


class Switch:
    MUTATIONS = ("turn",)

    def __init__(self) -> None:
        self.on = False

    async def turn(self, on: bool) -> bool:
        """Whether it changed anything."""
        changed, self.on = self.on != on, on
        return changed


async def test_a_call_that_changed_nothing_is_not_journaled_but_waits_for_what_came_before() -> (
    None
):
    switch, sink = Switch(), Sink()
    journal_calls(switch, "switch", sink, Switch.MUTATIONS, unchanged={"turn": lambda c: not c})
    assert await switch.turn(False) is False  # nothing journaled yet: nothing to wait for
    assert sink.entries == [] and sink.durable_asked == []
    assert await switch.turn(True) is True
    assert await switch.turn(True) is False
    assert sink.entries == [["switch", "turn", [True], {}]]
    assert sink.durable_asked == [1, 1], "the repeat waits for the entry that turned it on"


async def test_an_argument_the_journal_cannot_take_fails_the_call_before_it_changes_anything() -> (
    None
):
    counter, sink = Counter(), Sink()
    journal_calls(counter, "counter", sink, Counter.MUTATIONS)
    with pytest.raises(TypeError):
        await counter.add(object())  # type: ignore[arg-type]
    assert counter.total == 0 and sink.entries == []


# --- every store, recovered --------------------------------------------------------------


def fresh_stores(clock: WallClock) -> dict[str, Any]:
    return {
        "users": MemoryUserStore(),
        "graph": MemoryGraphStore(),
        "tweets": MemoryTweetStore(),
        "engagement": MemoryEngagementStore(),
        "notifications": MemoryNotificationStore(),
        "trends": MemoryTrendStore(),
        # Small segments and a small size limit: appends roll segments and trim often.
        "log": MemoryEventLog(
            TOPICS, retention=Retention(max_bytes=400, segment_records=3), clock=clock
        ),
    }


@asynccontextmanager
async def durable_stores(
    directory: Path, clock: WallClock, **options: Any
) -> AsyncIterator[tuple[DurableStores, dict[str, Any], ActorSystem]]:
    """Fresh stores recovered from ``directory``, the journal's flusher and the log's
    partitions running. Leaving by an exception is a crash: no final snapshot. The marker
    waits an hour between marks unless told otherwise: a test that wants marks moves a
    `trio.testing.MockClock` (`journal_marks`)."""
    options.setdefault("mark_every", 3600.0)
    stores = fresh_stores(clock)
    async with DurableStores.open(directory, stores, **options) as durable:
        log = stores["log"]
        system = ActorSystem(
            SupervisorSpec("root", [durable.supervisor_spec(), log.supervisor_spec()])
        )
        log.attach(system)
        durable.attach(system)
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run)
            try:
                yield durable, stores, system
            finally:
                await system.shutdown()


class Crash(Exception):
    """Leaves the stores as a crash would: without the final snapshot."""


@contextmanager
def crashing() -> Iterator[None]:
    with pytest.raises(BaseExceptionGroup) as caught:  # it leaves through the nursery
        yield
    assert caught.group_contains(Crash)


class Workload:
    """Random calls on every store, shaped as the services make them."""

    def __init__(self, seed: int, stores: dict[str, Any], system: ActorSystem, clock: WallClock):
        self.rng = random.Random(seed)
        self.stores = stores
        self.system = system
        self.clock = clock
        self.next_tweet = 1000
        self.next_notification = 50_000

    async def step(self) -> None:
        name = self.rng.choice(list(self.stores))
        await getattr(self, name)(self.stores[name])

    async def users(self, store: MemoryUserStore) -> None:
        rng, user_id = self.rng, self.rng.randrange(1, 12)
        match rng.randrange(5):
            case 0 | 1:
                name = f"user{rng.randrange(15)}"
                try:
                    await store.create(
                        username=name,
                        email=f"{name}@example.org",
                        password_hash=f"hash{rng.random()}",
                        display_name=name.title(),
                        created_at=START + timedelta(seconds=rng.randrange(10**6)),
                    )
                except Duplicate:
                    pass
            case 2 if await store.get(user_id):
                await store.update_profile(user_id, bio=f"bio {rng.random()}", region="us")
            case 3:
                await store.set_password_hash(user_id, f"rehashed{rng.random()}")
            case _:
                await store.delete(user_id)

    async def graph(self, store: MemoryGraphStore) -> None:
        rng = self.rng
        a, b = rng.randrange(1, 10), rng.randrange(1, 10)
        match rng.randrange(5):
            case 0 | 1 | 2:
                await store.follow(a, b, START)
            case 3:
                await store.unfollow(a, b)
            case _:
                store.load((rng.randrange(1, 10), rng.randrange(1, 10)) for _ in range(4))

    async def tweets(self, store: MemoryTweetStore) -> None:
        rng = self.rng
        held = list(store._tweets)
        match rng.randrange(4):
            case 0 | 1:
                self.next_tweet += rng.randrange(1, 5)
                tags = tuple(rng.sample(["a", "B", "c", "d"], rng.randrange(3)))
                await store.put(
                    Tweet(
                        self.next_tweet,
                        rng.randrange(1, 6),
                        f"text {rng.random()}",
                        START,
                        hashtags=tags,
                        reply_to=rng.choice(held) if held and rng.random() < 0.3 else None,
                    )
                )
            case 2 if held:
                old = await store.get(rng.choice(held))
                assert old is not None
                previous = TweetVersion(old.content, old.hashtags, (), (), START)
                # As the tweet service edits: the text and what comes of it, nothing else.
                edited = replace(old, content="edited", hashtags=("e",), edited_at=START)
                await store.edit(edited, previous)
            case 3 if held:
                await store.delete(rng.choice(held))

    async def engagement(self, store: MemoryEngagementStore) -> None:
        rng = self.rng
        user, tweet = rng.randrange(1, 6), rng.randrange(1, 8)
        match rng.randrange(5):
            case 0:
                await store.like(user, tweet)
            case 1:
                await store.unlike(user, tweet)
            case 2:
                await store.retweet(user, tweet, rng.randrange(10**6))
            case 3:
                await store.unretweet(user, tweet)
            case _:
                await store.forget_tweet(tweet)

    async def notifications(self, store: MemoryNotificationStore) -> None:
        rng = self.rng
        user = rng.randrange(1, 5)
        match rng.randrange(3):
            case 0:
                batch = []
                for _ in range(rng.randrange(1, 4)):
                    self.next_notification += 1
                    key = f"like:{rng.randrange(20)}:{user}"
                    batch.append(
                        Notification(self.next_notification, user, "like", 2, 3, START, key)
                    )
                await store.add(batch)
            case 1:
                await store.mark_read(user, self.next_notification - rng.randrange(5))
            case _:
                kinds = frozenset(rng.sample(["like", "reply", "follow"], 2))
                await store.set_preferences(
                    user, NotificationPreferences(kinds, rng.random() < 0.5)
                )

    async def trends(self, store: MemoryTrendStore) -> None:
        rng = self.rng
        table = rng.choice(["global", "uk"])
        match rng.randrange(3):
            case 0:
                uses = [
                    TweetTags(
                        rng.randrange(1, 10),
                        rng.randrange(1, 4),
                        rng.randrange(1, 5),
                        float(rng.randrange(100)),
                        tuple(rng.sample(["x", "y", "z"], rng.randrange(3))),
                    )
                    for _ in range(rng.randrange(1, 4))
                ]
                await store.set_uses(table, uses)
            case 1:
                await store.uses(table, since=float(rng.randrange(60)))
            case _:
                await store.replace(table, [Trend("x", rng.random() * 1000, 2, 5.0)])

    async def log(self, log: MemoryEventLog) -> None:
        rng = self.rng
        topic = rng.choice(list(TOPICS))
        match rng.randrange(6):
            case 0 | 1 | 2:
                self.clock.now += rng.randrange(3)
                await log.publish(topic, rng.randrange(50), {"n": rng.random(), "pad": "x" * 30})
            case 3:
                partition = rng.randrange(TOPICS[topic])
                end = (await log.end_offsets(topic))[partition]
                await log.commit("group", topic, partition, rng.randrange(end + 1))
            case 4:  # the retention ticker, the clock moved past some records' age
                self.clock.now += rng.randrange(0, 2 * 7 * 24 * 3600, 3600)
                partition = rng.randrange(TOPICS[topic])
                await self.system.ref(log.partition_name(topic, partition)).ask(ENFORCE_RETENTION)


def states(stores: dict[str, Any]) -> dict[str, Any]:
    return {name: store.snapshot_state() for name, store in stores.items()}


async def observed(stores: dict[str, Any]) -> dict[str, Any]:
    """What the stores answer through their reads, indexes included (snapshots hold no
    index: they are rebuilt)."""
    users, graph, tweets = stores["users"], stores["graph"], stores["tweets"]
    ids = range(1, 16)
    seen: dict[str, Any] = {
        "by_name": [await users.find(f"user{i}") for i in range(15)],
        "followers": [await graph.followers(i, limit=100) for i in ids],
        "following": [await graph.following(i, limit=100) for i in ids],
        "by_user": [await tweets.by_user(i, limit=100) for i in ids],
        "tags": [await tweets.by_hashtag(t, limit=100) for t in "abcde"],
        "replies": await tweets.reply_counts(list(stores["tweets"]._tweets)),
        "unread": [await stores["notifications"].unread(i) for i in ids],
        "top": [await stores["trends"].top(t, 10) for t in ("global", "uk")],
    }
    for table in ("global", "uk"):
        # Sorted: a tag's uses come out of a set, in no particular order.
        uses = await stores["trends"].uses(table, since=0.0)
        seen[f"uses:{table}"] = {tag: sorted(found) for tag, found in uses.items()}
    log = stores["log"]
    seen["log"] = [
        (await log.fetch(topic, dict.fromkeys(range(n), 0), max_records=10_000, timeout=0))
        for topic, n in TOPICS.items()
    ]
    return seen


@pytest.mark.parametrize("seed", range(6))
async def test_every_store_recovers_exactly_from_a_snapshot_and_the_journal(
    tmp_path: Path, seed: int
) -> None:
    clock = WallClock()
    steps = 250
    snapshot_at = random.Random(seed).randrange(steps)
    with crashing():
        async with durable_stores(tmp_path, clock) as (durable, stores, system):
            workload = Workload(seed, stores, system, clock)
            for step in range(steps):
                if step == snapshot_at:
                    await durable.snapshot()
                await workload.step()
            await durable.settled()  # the retention trims are not awaited by anyone
            live_state, live_reads = states(stores), await observed(stores)
            raise Crash
    async with durable_stores(tmp_path, clock) as (durable, stores, system):
        assert durable.recovery.snapshot_seq > 0
        assert durable.recovery.replayed > 0
        assert states(stores) == live_state
        assert await observed(stores) == live_reads


async def test_a_clean_stop_snapshots_so_the_next_start_replays_nothing(tmp_path: Path) -> None:
    clock = WallClock()
    async with durable_stores(tmp_path, clock) as (durable, stores, system):
        workload = Workload(99, stores, system, clock)
        for _ in range(100):
            await workload.step()
        live = states(stores)
    async with durable_stores(tmp_path, clock) as (durable, stores, system):
        assert durable.recovery.replayed == 0
        assert states(stores) == live


async def journal_marks(
    clock: MockClock, durable: DurableStores, stores: dict[str, Any], count: int
) -> None:
    """Have the marker journal ``count`` marks, each after a change and once the one before
    is durable, by moving the clock past its interval."""
    for n in range(count):
        await stores["graph"].follow(100, 200 + n, START)  # marks follow changes only
        clock.jump(MARK_EVERY)
        await trio.testing.wait_all_tasks_blocked()
        await durable.settled()


MARKS = {"mark_every": MARK_EVERY, "step_limit": MARK_EVERY}


async def test_a_long_replay_is_snapshotted_at_start_up_and_the_journal_cut(
    tmp_path: Path, mock_clock: MockClock
) -> None:
    clock = WallClock()
    options = {"snapshot_every": 20, "segment_bytes": 256, **MARKS}
    with crashing():
        async with durable_stores(tmp_path, clock, **options) as (durable, stores, system):
            workload = Workload(7, stores, system, clock)
            for _ in range(100):
                await workload.step()
            # Enough marks that no write journaled before them can still be in flight.
            before = durable.journal.next_seq
            await journal_marks(mock_clock, durable, stores, marks_needed(**MARKS))
            assert durable.horizon > before
            live = states(stores)
            raise Crash
    async with durable_stores(tmp_path, clock, **options) as (durable, stores, system):
        assert durable.recovery.replayed >= 20
        first = durable.journal.first_seq
        assert first > 1, "the segments the snapshot and the horizon cover are gone"
        assert first <= durable.horizon + 1, "what a repair would read is kept"
        assert states(stores) == live
    async with durable_stores(tmp_path, clock, **options) as (durable, stores, system):
        assert durable.recovery.replayed == 0
        assert states(stores) == live


async def test_the_snapshotter_snapshots_once_enough_is_journaled(tmp_path: Path) -> None:
    clock = WallClock()
    async with durable_stores(tmp_path, clock, snapshot_every=10) as (durable, stores, system):
        snapshotter = system.ref("durable.snapshots")  # its ticker tells it this every 10 s
        for n in range(12):
            await stores["graph"].follow(1, n + 2, START)
            if n == 5:
                await snapshotter.ask(SNAPSHOT_IF_DUE)  # 6 entries: not due yet
                assert await snapshot_seqs(tmp_path / "snapshots") == []
        assert durable.snapshot_due
        await snapshotter.ask(SNAPSHOT_IF_DUE)
        assert not durable.snapshot_due
        assert await snapshot_seqs(tmp_path / "snapshots") == [12]


async def test_an_entry_that_does_not_apply_stops_recovery(tmp_path: Path) -> None:
    with await Journal.open(tmp_path / "journal", codec=records_codec()) as journal:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            await journal.durable(journal.append(["tweets", "edit", [RECORDS[1], RECORDS[2]], {}]))
            nursery.cancel_scope.cancel()
    with pytest.raises(RecoveryFailed, match="entry 1"):
        async with durable_stores(tmp_path, WallClock()):
            pass


async def test_a_log_saved_with_other_partitions_is_refused(tmp_path: Path) -> None:
    clock = WallClock()
    async with durable_stores(tmp_path, clock) as (durable, stores, system):
        await stores["log"].publish("tweets", 1, {"n": 1})
    stores = fresh_stores(clock)
    stores["log"] = MemoryEventLog({"tweets": 4, "likes": 2}, clock=clock)
    with pytest.raises(ValueError, match="partitions"):
        async with DurableStores.open(tmp_path, stores):
            pass


# --- the horizon, the repair, the refusal notes -----------------------------------------


def graph_entries(entries: Any) -> list[Any]:
    return [entry for _, entry in entries if entry[0] == "graph"]


async def test_marks_follow_changes_and_move_the_horizon_once_enough_are_journaled(
    tmp_path: Path, mock_clock: MockClock
) -> None:
    kept = marks_needed(**MARKS)
    async with durable_stores(tmp_path, WallClock(), **MARKS) as (durable, stores, system):
        await stores["graph"].follow(1, 2, START)
        first = durable.journal.next_seq  # the next change, the first mark after it
        await journal_marks(mock_clock, durable, stores, kept - 1)
        assert durable.horizon == 0, "too few marks to bound anything: from the beginning"
        idle = durable.journal.next_seq
        mock_clock.jump(10 * MARK_EVERY)
        await trio.testing.wait_all_tasks_blocked()
        assert durable.journal.next_seq == idle, "nothing journaled since the last mark"
        await journal_marks(mock_clock, durable, stores, 1)
        assert durable.horizon == first + 1, "the oldest of the newest marks"
        marks = [(seq, e) for seq, e in durable.journal.replay() if e[:2] == ["durable", "mark"]]
        assert [e[2] for _, e in marks] == [[seq] for seq, _ in marks], "each names its own seq"
        assert len(marks) == kept


async def test_no_mark_is_journaled_while_the_one_before_it_is_not_durable(
    tmp_path: Path, mock_clock: MockClock
) -> None:
    """A stalled disk holds the marks back as much as the writes: the horizon cannot pass
    a write whose steps are waiting for the same fsync."""
    disk = threading.Event()
    disk.set()

    def fsync(fd: int) -> None:
        disk.wait()
        os.fsync(fd)

    options = {"fsync": fsync, **MARKS}
    async with durable_stores(tmp_path, WallClock(), **options) as (durable, stores, system):
        try:
            await journal_marks(mock_clock, durable, stores, 1)
            disk.clear()  # from here the disk takes nothing
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stores["graph"].follow, 5, 6, START)
                await trio.testing.wait_all_tasks_blocked()
                mock_clock.jump(MARK_EVERY)  # a change since the last mark, which is durable
                await trio.testing.wait_all_tasks_blocked()
                stalled_mark = durable.journal.next_seq - 1
                nursery.start_soon(stores["graph"].follow, 7, 8, START)
                await trio.testing.wait_all_tasks_blocked()
                for _ in range(5):  # however long the disk stalls
                    mock_clock.jump(MARK_EVERY)
                    await trio.testing.wait_all_tasks_blocked()
                assert durable.journal.next_seq == stalled_mark + 2, "only the change"
                disk.set()
        finally:
            disk.set()
        await durable.settled()
        mark_entries = [
            seq for seq, entry in durable.journal.replay() if entry[:2] == ["durable", "mark"]
        ]
        assert mark_entries[-1] == stalled_mark


async def test_repair_hands_over_what_came_after_the_horizon_and_clears_it(
    tmp_path: Path,
) -> None:
    clock = WallClock()
    with crashing():
        async with durable_stores(tmp_path, clock) as (durable, stores, system):
            await stores["graph"].follow(1, 2, START)
            await stores["graph"].follow(1, 3, START)
            raise Crash
    follows = [["graph", "follow", [1, 2, START], {}], ["graph", "follow", [1, 3, START], {}]]

    async def fix_then_die(entries: Any) -> None:
        assert graph_entries(entries) == follows
        await stores["graph"].unfollow(1, 3)  # journaled like any other write
        raise Crash

    stores = fresh_stores(clock)
    with crashing():
        async with DurableStores.open(tmp_path, stores) as durable:
            await durable.repair(fix_then_die)
    seen: list[Any] = []

    async def fix(entries: Any) -> str:
        seen.extend(graph_entries(entries))
        return "fixed"

    stores = fresh_stores(clock)
    async with DurableStores.open(tmp_path, stores) as durable:
        assert await durable.repair(fix) == "fixed"
        assert seen == [*follows, ["graph", "unfollow", [1, 3], {}]], "the same, and more"
        assert durable.horizon == durable.journal.next_seq - 1, "up to its clear entry"
        assert not await stores["graph"].is_following(1, 3)
    seen.clear()
    stores = fresh_stores(clock)
    async with DurableStores.open(tmp_path, stores) as durable:
        assert await durable.repair(fix) == "fixed"
        assert seen == [], "nothing a write in flight can have journaled"


async def test_snapshots_keep_the_journal_a_repair_would_read(
    tmp_path: Path, mock_clock: MockClock
) -> None:
    options = {"segment_bytes": 128, **MARKS}
    async with durable_stores(tmp_path, WallClock(), **options) as (durable, stores, system):
        for n in range(20):
            await stores["graph"].follow(1, n + 2, START)
        await durable.snapshot()
        assert durable.journal.first_seq == 1, "no marks yet: a repair would read it all"
        await journal_marks(mock_clock, durable, stores, marks_needed(**MARKS))
        await durable.snapshot()
        assert 1 < durable.journal.first_seq <= durable.horizon + 1


async def test_a_refused_publish_is_noted_right_before_the_callers_undo(tmp_path: Path) -> None:
    async with durable_stores(tmp_path, WallClock()) as (durable, stores, system):
        log, engagement = stores["log"], stores["engagement"]

        async def refusing(topic: str, key: Any, event: Any) -> Any:
            raise LogUnavailable(f"{topic} is down")

        log.publish = refusing
        durable.note_refusals(log)
        await engagement.like(1, 7)
        try:
            await log.publish("likes", 7, {"user_id": 1, "tweet_id": 7})
        except LogUnavailable:
            await engagement.unlike(1, 7)  # as a service undoes what the log refused
        else:
            raise AssertionError("the refusal reaches the caller")
        first = durable.journal.next_seq - 3
        assert [entry for _, entry in durable.journal.replay(first - 1)] == [
            ["engagement", "like", [1, 7], {}],
            ["durable", "refused", ["likes", 7, {"user_id": 1, "tweet_id": 7}], {}],
            ["engagement", "unlike", [1, 7], {}],
        ]


async def test_a_snapshot_from_before_the_horizon_existed_is_read_whole(tmp_path: Path) -> None:
    clock = WallClock()
    async with durable_stores(tmp_path, clock) as (durable, stores, system):
        await stores["graph"].follow(1, 2, START)
    seq, state = await latest_snapshot(tmp_path / "snapshots", codec=records_codec())
    del state["durable"]
    await write_snapshot(tmp_path / "snapshots", seq, state, codec=records_codec())
    seen: list[Any] = []

    async def fix(entries: Any) -> None:
        seen.extend(graph_entries(entries))

    stores = fresh_stores(clock)
    async with DurableStores.open(tmp_path, stores) as durable:
        assert durable.horizon == 0
        await durable.repair(fix)
        assert seen == [["graph", "follow", [1, 2, START], {}]]
        assert await stores["graph"].is_following(1, 2)


async def test_the_journals_own_store_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durable"):
        async with DurableStores.open(tmp_path, {"durable": MemoryUserStore()}):  # type: ignore[dict-item]
            pass
