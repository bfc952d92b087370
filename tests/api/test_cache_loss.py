"""Losing the whole feed cache under load loses no acknowledged tweet: feeds regenerate
from the tweet store. Embedded, every cache node is killed; in production, every cache
key of the deployment is deleted (as a Redis restart or a flush of its database would)."""

from __future__ import annotations

import trio
import trio.testing

from chirp.server import Chirp
from storage.memory import MemoryFeedCache

from .conftest import running
from .test_feed import settle

AUTHORS, TWEETS_EACH, FLUSHES = 6, 15, 4


async def lose_the_cache(chirp: Chirp) -> None:
    cache = chirp.stores.cache
    if isinstance(cache, MemoryFeedCache):
        for node in range(chirp.settings.cache_nodes):
            chirp.system.kill(cache.node_name(node))
        return
    from storage.redis import RedisStores

    client = RedisStores.client_of(cache)
    prefix = f"{chirp.settings.namespace}:"
    for kind in ("feed", "celeb", "tweet"):
        keys = [k async for k in client.scan_iter(match=f"{prefix}{kind}:*")]
        if keys:
            for key in keys:  # one key per DEL, as on a cluster
                await client.delete([key])


async def test_losing_the_cache_mid_burst_loses_no_acknowledged_tweet(
    nursery: trio.Nursery,
) -> None:
    chirp = await running(nursery)
    users, tweets, feeds = chirp.services.users, chirp.services.tweets, chirp.services.feeds
    people = []
    for n in range(AUTHORS):
        view, _ = await users.register(
            username=f"c{n}", email=f"c{n}@x.org", password="long enough pw"
        )
        people.append(view.user.user_id)
    for follower in people:
        for followee in people:
            if follower != followee:
                await users.follow(follower, followee)
    for person in people:
        await users.seen(person)
        await feeds.read(person, limit=1, max_id=None)  # every feed cached before the burst
    acknowledged: list[int] = []
    flushed = trio.Event()

    async def burst(author: int) -> None:
        for n in range(TWEETS_EACH):
            acknowledged.append((await tweets.post(author, f"{author}:{n}")).tweet.tweet_id)

    async def flusher() -> None:
        # Losses spread through the burst: after every few acknowledgements.
        step = AUTHORS * TWEETS_EACH // (FLUSHES + 1)
        for loss in range(1, FLUSHES + 1):
            while len(acknowledged) < loss * step:
                await trio.testing.wait_all_tasks_blocked()
                await trio.sleep(0)
            await lose_the_cache(chirp)
        flushed.set()

    async with trio.open_nursery() as load:
        load.start_soon(flusher)
        for author in people:
            load.start_soon(burst, author)
    assert flushed.is_set()
    await settle(chirp)
    everything = sorted(acknowledged, reverse=True)
    for reader in people:
        page = await feeds.read(reader, limit=100, max_id=None)
        assert [v.tweet.tweet_id for v in page.tweets] == everything, "each follows all"
