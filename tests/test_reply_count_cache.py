"""Reply counts read through the cache never stay stale: a count taken before a reply
landed, or while the reply index may still lag behind it, cannot be cached over the
change it missed, in whatever order the two reach the cache."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest
import trio
import trio.testing

from chirp.model import Tweet
from chirp.services.tweet_cache import SETTLING, TweetCache
from storage.memory import MemoryTweetStore

from .storage.test_feed_cache import start_cache

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
LATER = SETTLING + timedelta(microseconds=1)  # past the time a change may take to show


def tweet(tweet_id: int, reply_to: int | None = None) -> Tweet:
    return Tweet(tweet_id=tweet_id, user_id=1, content="x", created_at=NOW, reply_to=reply_to)


class PausingStore(MemoryTweetStore):
    """Counts replies, then waits for `resume` before answering, when `pause` is set;
    answers counts `lag` replies short, as an index that has not caught up does."""

    def __init__(self) -> None:
        super().__init__()
        self.pause = False
        self.lag = 0
        self.counted = trio.Event()
        self.resume = trio.Event()
        self.queries = 0

    async def reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        self.queries += 1
        counts = await super().reply_counts(tweet_ids)
        if self.pause:
            self.counted.set()
            await self.resume.wait()
        return {i: max(0, n - self.lag) for i, n in counts.items()}


class Clock:
    def __init__(self) -> None:
        self.moment = NOW

    def __call__(self) -> datetime:
        return self.moment


async def reply(store: PausingStore, cached: TweetCache, tweet_id: int, parent: int) -> None:
    await store.put(tweet(tweet_id, reply_to=parent))
    await cached.replies_changed(parent)


async def cached_with(nursery: trio.Nursery, clock: Clock) -> tuple[TweetCache, PausingStore]:
    cache, _ = await start_cache(nursery, nodes=2)
    store = PausingStore()
    await store.put(tweet(1))
    return TweetCache(cache=cache, tweets=store, now=clock, count_replies=True), store


async def served_from_cache(cached: TweetCache, store: PausingStore, expected: int) -> None:
    queries = store.queries
    assert await cached.reply_counts([1]) == {1: expected}
    assert store.queries == queries, "served from the cache, not counted"


@pytest.mark.parametrize("change_lands", ["before the stale count", "after the stale count"])
async def test_a_count_taken_before_a_reply_is_not_kept(
    nursery: trio.Nursery, change_lands: str
) -> None:
    clock = Clock()
    cached, store = await cached_with(nursery, clock)
    cache = cached._cache
    assert cache is not None
    store.pause = True
    stale: list[dict[int, int]] = []

    async def read() -> None:
        stale.append(await cached.reply_counts([1]))

    async with trio.open_nursery() as readers:
        readers.start_soon(read)
        await store.counted.wait()  # counted 0, not yet cached
        if change_lands == "before the stale count":
            await reply(store, cached, 2, parent=1)
            store.resume.set()
        else:
            real_put = cache.put_reply_counts
            landed = trio.Event()

            async def put_then_signal(counts: dict[int, tuple[int, int | None]]) -> None:
                await real_put(counts)
                landed.set()

            cache.put_reply_counts = put_then_signal  # type: ignore[method-assign]
            store.resume.set()
            await landed.wait()
            cache.put_reply_counts = real_put  # type: ignore[method-assign]
            await reply(store, cached, 2, parent=1)
    assert stale == [{1: 0}]
    store.pause = False
    assert await cached.reply_counts([1]) == {1: 1}, "the same instant, and still not stale"
    clock.moment += LATER
    assert await cached.reply_counts([1]) == {1: 1}
    await served_from_cache(cached, store, 1)


async def test_a_count_from_an_index_still_lagging_is_not_kept(nursery: trio.Nursery) -> None:
    clock = Clock()
    cached, store = await cached_with(nursery, clock)
    store.lag = 1
    await reply(store, cached, 2, parent=1)
    clock.moment += SETTLING / 2
    assert await cached.reply_counts([1]) == {1: 0}, "the index has not caught up"
    store.lag = 0
    assert await cached.reply_counts([1]) == {1: 1}, "and the lagging count was not cached"


async def test_counts_are_cached_until_a_reply_comes_or_goes(nursery: trio.Nursery) -> None:
    clock = Clock()
    cached, store = await cached_with(nursery, clock)
    await store.put(tweet(2))
    assert await cached.reply_counts([1, 2]) == {1: 0, 2: 0}
    await served_from_cache(cached, store, 0)
    await reply(store, cached, 3, parent=1)
    clock.moment += LATER
    queries = store.queries
    assert await cached.reply_counts([1, 2]) == {1: 1, 2: 0}
    assert store.queries == queries + 1, "only the changed tweet counted again"
    await served_from_cache(cached, store, 1)
    await store.delete(3)
    await cached.replies_changed(1)
    assert await cached.reply_counts([2, 1]) == {2: 0, 1: 0}


async def test_a_clock_stepping_back_cannot_keep_a_stale_count(nursery: trio.Nursery) -> None:
    clock = Clock()
    cached, store = await cached_with(nursery, clock)
    clock.moment += 10 * SETTLING
    assert await cached.reply_counts([1]) == {1: 0}  # cached, versioned late
    clock.moment -= 10 * SETTLING
    await reply(store, cached, 2, parent=1)
    assert await cached.reply_counts([1]) == {1: 1}


async def test_without_the_option_the_store_counts_every_time(nursery: trio.Nursery) -> None:
    clock = Clock()
    cache, _ = await start_cache(nursery, nodes=1)
    store = PausingStore()
    cached = TweetCache(cache=cache, tweets=store, now=clock)
    await store.put(tweet(1))
    for _ in range(2):
        assert await cached.reply_counts([1]) == {1: 0}
    assert store.queries == 2
    assert await cache.get_reply_counts([1]) == {}
