"""Writes under chaos: partition actors killed at random during a burst of tweets, likes
and follows. What was acknowledged is there, and announced once; what failed is not.
(The undoing of writes the log refused is tested alone, in tests/test_write_undo.py.)"""

from __future__ import annotations

import random
from collections import Counter

import trio
import trio.testing

from chirp.services.errors import Unavailable

from .api.conftest import SMALL_TOPICS, running

WRITERS, WRITES_EACH = 12, 150


async def all_events(chirp, topic: str) -> list[dict]:  # type: ignore[no-untyped-def]
    positions = dict.fromkeys(range(chirp.log.topics[topic]), 0)
    fetched = await chirp.log.fetch(topic, positions, max_records=100_000, timeout=0)
    return [record.value for record in fetched.records]


async def test_no_acknowledged_write_is_lost_while_partitions_are_killed(
    nursery: trio.Nursery,
) -> None:
    rng = random.Random(3)
    chirp = await running(nursery, max_restarts=10_000)
    users, tweets = chirp.services.users, chirp.services.tweets
    people = [
        (
            await users.register(
                username=f"u{n}", email=f"u{n}@example.org", password="long enough pw"
            )
        )[0].user.user_id
        for n in range(WRITERS)
    ]
    posted: list[int] = []
    acked_tweets: set[int] = set()
    acked_likes: set[tuple[int, int]] = set()
    acked_follows: set[tuple[int, int]] = set()
    failures = Counter[str]()
    done = trio.Event()

    async def writer(me: int) -> None:
        for n in range(WRITES_EACH):
            kind = rng.choice(["tweet", "tweet", "like", "follow"])
            try:
                if kind == "tweet":
                    view = await tweets.post(me, f"tweet {me}-{n} #chaos")
                    acked_tweets.add(view.tweet.tweet_id)
                    posted.append(view.tweet.tweet_id)
                elif kind == "like" and posted:
                    target = rng.choice(posted)
                    await tweets.like(me, target)
                    acked_likes.add((me, target))
                elif kind == "follow":
                    other = rng.choice([p for p in people if p != me])
                    await users.follow(me, other)
                    acked_follows.add((me, other))
            except Unavailable:
                failures[kind] += 1

    # Every actor of the tree: the partitions and the retention ticker (HTTP is not in
    # this in-process test: the writers call the services the handlers call).
    partitions = [
        f"log.{topic}.{p}" for topic, count in SMALL_TOPICS.items() for p in range(count)
    ] + ["log.retention"]
    kills = 0

    async def chaos() -> None:
        nonlocal kills
        while not done.is_set():
            for _ in range(rng.randrange(1, 12)):
                await trio.lowlevel.checkpoint()
            name = rng.choice(partitions)
            if chirp.system.state(name) == "running":
                chirp.system.kill(name)
                kills += 1

    async with trio.open_nursery() as load:
        load.start_soon(chaos)
        async with trio.open_nursery() as writers:
            for me in people:
                writers.start_soon(writer, me)
        done.set()
    await trio.testing.wait_all_tasks_blocked()

    # A partition actor appends without awaiting, so a kill lands between appends: what
    # was in its mailbox waits for the next incarnation, and nothing needs to fail.
    assert kills >= 30, kills
    stored = await chirp.services.tweets.views(sorted(acked_tweets), viewer=None)
    assert {v.tweet.tweet_id for v in stored} == acked_tweets, "every acknowledged tweet"
    announced = Counter(e["tweet_id"] for e in await all_events(chirp, "tweet_created"))
    assert set(announced) == acked_tweets, "announced iff acknowledged (failures undone)"
    assert max(announced.values()) == 1, "and announced once"
    for me, target in acked_likes:
        assert target in await chirp.services.tweets._engagement.liked(me, [target])
    liked_events = {(e["user_id"], e["tweet_id"]) for e in await all_events(chirp, "like_added")}
    assert acked_likes <= liked_events
    for me, other in acked_follows:
        assert await chirp.services.users._graph.is_following(me, other)
    assert chirp.system.unavailable() == []
