"""The feed cache's contract (every backend) and what the cache-node actors add."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from actors import ActorSystem, SupervisorSpec
from storage.cache_ttl import CacheTTL
from storage.memory import MemoryFeedCache
from storage.protocols import FeedCache
from tests.backends import backends, opened
from tests.servers import Servers


async def start_cache(
    nursery: trio.Nursery, **options: object
) -> tuple[MemoryFeedCache, ActorSystem]:
    cache = MemoryFeedCache(**options)  # type: ignore[arg-type]
    system = ActorSystem(SupervisorSpec("root", [cache.supervisor_spec()]))
    cache.attach(system)
    await nursery.start(system.run)
    return cache, system


@pytest.fixture(params=backends("feed_cache"))
async def feed_cache(
    request: pytest.FixtureRequest, nursery: trio.Nursery, servers: Servers
) -> AsyncIterator[FeedCache]:
    if request.param == "memory":
        cache, _ = await start_cache(nursery, nodes=3)
        yield cache
    else:
        async with opened("feed_cache", request.param, servers) as cache:
            yield cache


async def test_pushes_go_only_into_feeds_that_exist(feed_cache: FeedCache) -> None:
    assert await feed_cache.push([(1, 100), (2, 100)]) == 0
    assert await feed_cache.feed(1, limit=10) is None, "never built: a miss"
    await feed_cache.store_feed(1, [50, 60])
    assert await feed_cache.push([(1, 100), (1, 100), (2, 101)]) == 1
    assert await feed_cache.feed(1, limit=10) == [100, 60, 50]
    assert await feed_cache.feed(1, limit=2, max_id=99) == [60, 50]
    assert await feed_cache.remove([(1, 60), (1, 60), (2, 60)]) == 1
    assert await feed_cache.feed(1, limit=10) == [100, 50]
    await feed_cache.drop_feed(1)
    assert await feed_cache.feed(1, limit=10) is None


async def test_a_feed_keeps_its_newest_thousand(feed_cache: FeedCache) -> None:
    await feed_cache.store_feed(7, range(1, 1201))
    newest = await feed_cache.feed(7, limit=2000)
    assert newest is not None and len(newest) == 1000 and newest[0] == 1200 and newest[-1] == 201


async def test_celebrities_and_tweets(feed_cache: FeedCache) -> None:
    await feed_cache.celeb_push([(42, 1)])  # not cached: nothing to add to
    await feed_cache.store_celeb(42, [5])
    await feed_cache.celeb_push([(42, 9), (42, 7)])
    await feed_cache.celeb_remove(42, 9)
    assert await feed_cache.celeb_recent([42, 43], limit=5) == {42: [7, 5]}
    await feed_cache.put_tweets({1: (1, "one"), 2: (1, {"two": 2})})
    assert await feed_cache.get_tweets([1, 2, 3]) == {1: "one", 2: {"two": 2}}
    await feed_cache.put_tweets({1: (2, None)})
    assert await feed_cache.get_tweets([1, 2]) == {1: None, 2: {"two": 2}}, "a tombstone"


async def test_a_stale_tweet_never_replaces_a_newer_version(feed_cache: FeedCache) -> None:
    await feed_cache.put_tweets({1: (2, "edited"), 2: (9, None)})
    await feed_cache.put_tweets({1: (1, "original"), 2: (1, "before its deletion")})
    assert await feed_cache.get_tweets([1, 2]) == {1: "edited", 2: None}
    await feed_cache.put_tweets({1: (3, "edited again")})
    assert await feed_cache.get_tweets([1]) == {1: "edited again"}


async def test_feeds_expire_five_minutes_after_their_last_read(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    cache, _ = await start_cache(nursery, nodes=2, ttl=CacheTTL(feed=300.0, tweet=600.0))
    await cache.store_feed(1, [10])
    await cache.put_tweets({10: (1, "t")})
    await trio.sleep(200)
    assert await cache.feed(1, limit=5) == [10]  # read: alive for 300 s more
    await cache.push([(1, 11)])
    await trio.sleep(250)
    assert await cache.feed(1, limit=5) == [11, 10], "a push does not shorten or extend it"
    await trio.sleep(301)
    assert await cache.feed(1, limit=5) is None
    assert await cache.get_tweets([10]) == {}, "tweets live 10 minutes"


async def test_the_sweeper_frees_what_nobody_reads(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    cache, system = await start_cache(nursery, nodes=1, sweep_interval=60.0)
    for user in range(50):
        await cache.store_feed(user, [1, 2, 3])
    node = system.tree()["children"][0]["children"][0]
    assert node["feeds"] == 50
    await trio.sleep(400)
    await trio.testing.wait_all_tasks_blocked()
    assert system.tree()["children"][0]["children"][0]["feeds"] == 0


async def test_killing_a_node_loses_only_its_cache(nursery: trio.Nursery) -> None:
    cache, system = await start_cache(nursery, nodes=3)
    users = list(range(30))
    for user in users:
        await cache.store_feed(user, [user])
    victim = cache.node_for("feed:{0}")
    system.kill(cache.node_name(victim))
    await trio.testing.wait_all_tasks_blocked()
    for user in users:
        expected = None if cache.node_for(f"feed:{{{user}}}") == victim else [user]
        assert await cache.feed(user, limit=5) == expected


async def test_writes_are_batched_per_node(nursery: trio.Nursery) -> None:
    cache, _ = await start_cache(nursery, nodes=3)
    for user in range(1000):
        await cache.store_feed(user, [])
    before = cache.requests
    assert await cache.push([(user, 5) for user in range(1000)]) == 1000
    per_node = [
        sum(1 for u in range(1000) if cache.node_for(f"feed:{{{u}}}") == n) for n in range(3)
    ]
    assert cache.requests - before == sum(-(-count // 100) for count in per_node)
