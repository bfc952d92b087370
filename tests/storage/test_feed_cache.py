"""The feed cache's contract (every backend) and what the cache-node actors add."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import trio
import trio.testing

from actors import ActorSystem, SupervisorSpec
from storage.cache_ttl import CacheTTL
from storage.memory import MemoryFeedCache
from storage.protocols import FeedCache
from tests.backends import backends, opened, scratch_redis
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


async def test_one_push_of_more_ids_than_a_feed_holds(feed_cache: FeedCache) -> None:
    """Thousands of ids for one feed in one push (a follower catching up on a busy
    batch), shuffled, between other feeds' ids: the feed keeps the newest thousand."""
    await feed_cache.store_feed(1, [1])
    await feed_cache.store_feed(2, [1])
    ids = list(range(2, 2502))
    random.Random(3).shuffle(ids)
    entries = [(2, 5000)] + [(1, i) for i in ids] + [(2, 5001)]
    await feed_cache.push(entries)
    newest = await feed_cache.feed(1, limit=2000)
    assert newest == list(range(2501, 1501, -1))
    assert await feed_cache.feed(2, limit=10) == [5001, 5000, 1]


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


async def test_reply_counts_take_only_newer_versions_and_a_change_hides_them(
    feed_cache: FeedCache,
) -> None:
    await feed_cache.put_reply_counts({1: (4, 3), 2: (4, 0)})
    assert await feed_cache.get_reply_counts([1, 2, 3]) == {1: 3, 2: 0}
    await feed_cache.put_reply_counts({1: (5, None), 2: (3, 9)})
    assert await feed_cache.get_reply_counts([1, 2]) == {2: 0}, "1 changed; 9 is older"
    await feed_cache.put_reply_counts({1: (4, 3)})
    assert await feed_cache.get_reply_counts([1]) == {}, "counted before the change"
    await feed_cache.put_reply_counts({1: (6, 4)})
    assert await feed_cache.get_reply_counts([1]) == {1: 4}


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


@pytest.mark.parametrize("backend", backends("feed_cache"))
@pytest.mark.parametrize("seed", range(4))
async def test_a_feed_is_a_capped_newest_first_set_whatever_the_order_of_pushes(
    backend: str, seed: int, nursery: trio.Nursery, servers: Servers
) -> None:
    """Pushes out of order, repeated, and past the capacity, against a model: the
    ``capacity`` highest ids pushed (or stored) and not removed since."""
    ttl = CacheTTL(feed_capacity=8)
    rng = random.Random(seed)
    async with AsyncExitStack() as stack:
        if backend == "memory":
            cache: FeedCache = (await start_cache(nursery, nodes=2, ttl=ttl))[0]
        else:
            cache = (
                await stack.enter_async_context(scratch_redis(servers.redis_url, ttl=ttl))
            ).feed_cache
        model: dict[int, set[int]] = {1: {5}, 2: set()}
        for user, ids in model.items():
            await cache.store_feed(user, ids)
        for _ in range(60):
            entries = [
                (rng.choice([1, 2, 3]), rng.randrange(1, 40)) for _ in range(rng.randrange(1, 6))
            ]
            if rng.random() < 0.8:
                added = await cache.push(entries)
                before = {user: set(ids) for user, ids in model.items()}
                for user, tweet_id in entries:
                    if user in model:
                        held = model[user] | {tweet_id}
                        model[user] = set(sorted(held, reverse=True)[: ttl.feed_capacity])
                stayed = sum(len(model[u] - before[u]) for u in model)
                offered = {(u, i) for u, i in entries if u in model and i not in before[u]}
                # One that went in may be pushed out by a newer one of the same call.
                assert stayed <= added <= len(offered)
            else:
                await cache.remove(entries)
                for user, tweet_id in entries:
                    model.get(user, set()).discard(tweet_id)
            for user in (1, 2):
                assert await cache.feed(user, limit=20) == sorted(model[user], reverse=True)
            assert await cache.feed(3, limit=20) is None
            bound = rng.randrange(1, 40)
            expected = sorted((i for i in model[1] if i <= bound), reverse=True)[:3]
            assert await cache.feed(1, limit=3, max_id=bound) == expected


async def test_scripts_a_restarted_server_forgot_are_loaded_again(servers: Servers) -> None:
    async with scratch_redis(servers.redis_url) as stores:
        cache = stores.feed_cache
        await cache.store_feed(1, [10])
        await stores.client.script_flush()  # as after a restart: every script is gone
        assert await cache.push([(1, 11), (2, 11)]) == 1
        await stores.client.script_flush()
        assert await cache.feed(1, limit=5) == [11, 10]
        await stores.client.script_flush()
        assert (await stores.rate_limits.acquire("k", 2, 60.0, 1000.0)).allowed
