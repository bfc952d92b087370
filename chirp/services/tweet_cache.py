"""The tweet cache (the seed's ``tweet:{id}``): hydration reads through it to the store."""

from __future__ import annotations

from collections.abc import Iterable

from chirp.model import Tweet
from storage.protocols import DELETED_VERSION, FeedCache, TweetStore

#: Above every real version: once a tweet is deleted no stale copy can be cached over it.
DELETED = DELETED_VERSION


def version_of(tweet: Tweet) -> int:
    """Grows with every edit (edits of one tweet are serialised, microseconds apart)."""
    return int((tweet.edited_at or tweet.created_at).timestamp() * 1_000_000)


def tombstones(tweet_ids: Iterable[int]) -> dict[int, tuple[int, None]]:
    return {tweet_id: (DELETED, None) for tweet_id in tweet_ids}


class TweetCache:
    """Tweets by id, from the cache where it holds them and from the store (filling the
    cache) where it does not. Every entry carries its version, so a reader that fetched
    a tweet just before an edit or a delete cannot cache the old copy over the new one;
    a deleted tweet is cached as a tombstone and reads as absent.

    Without a cache (``cache`` None) it reads the store alone."""

    def __init__(self, *, cache: FeedCache | None, tweets: TweetStore) -> None:
        self._cache = cache
        self._tweets = tweets
        self.hits = 0
        self.misses = 0

    async def get_many(self, tweet_ids: Iterable[int]) -> dict[int, Tweet]:
        wanted = list(dict.fromkeys(tweet_ids))
        if self._cache is None or not wanted:
            return await self._tweets.get_many(wanted)
        held = await self._cache.get_tweets(wanted)
        found: dict[int, Tweet] = {i: t for i, t in held.items() if t is not None}
        missing = [i for i in wanted if i not in held]
        self.hits += len(held)
        self.misses += len(missing)
        if missing:
            fresh = await self._tweets.get_many(missing)
            if fresh:
                await self._cache.put_tweets({i: (version_of(t), t) for i, t in fresh.items()})
            found.update(fresh)
        return found

    async def refresh(self, tweet: Tweet) -> None:
        """Cache ``tweet`` as it now is (after an edit)."""
        if self._cache is not None:
            await self._cache.put_tweets({tweet.tweet_id: (version_of(tweet), tweet)})

    async def bury(self, tweet_ids: Iterable[int]) -> None:
        """Mark tweets deleted, so no cached copy of them is served again."""
        if self._cache is not None:
            await self._cache.put_tweets(tombstones(tweet_ids))
