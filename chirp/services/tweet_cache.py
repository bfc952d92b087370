"""The tweet cache (the seed's ``tweet:{id}``): hydration reads through it to the store,
for the tweets and, where counting is a database query per tweet, for their reply counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from chirp.model import Tweet
from storage.protocols import DELETED_VERSION, FeedCache, TweetStore

#: Above every real version: once a tweet is deleted no stale copy can be cached over it.
DELETED = DELETED_VERSION


def version_of(tweet: Tweet) -> int:
    """Grows with every edit (edits of one tweet are serialised, microseconds apart)."""
    return int((tweet.edited_at or tweet.created_at).timestamp() * 1_000_000)


def tombstones(tweet_ids: Iterable[int]) -> dict[int, tuple[int, None]]:
    return {tweet_id: (DELETED, None) for tweet_id in tweet_ids}


#: How long after a reply a count may still miss it: DynamoDB's reply index (a GSI) is
#: eventually consistent, and clocks step. A change is versioned this far ahead, so a
#: count begun within it is served but not cached.
SETTLING = timedelta(seconds=2)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def counted_at(moment: datetime) -> int:
    """The version of a reply count read at ``moment``: even, below a change's there."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 2


def changed_at(moment: datetime) -> int:
    """The version of replies changed at ``moment`` (give it the change's moment plus
    `SETTLING`): odd, so of a count and a change at the same instant the change wins,
    whichever reaches the cache first."""
    return counted_at(moment) + 1


class TweetCache:
    """Tweets by id, from the cache where it holds them and from the store (filling the
    cache) where it does not. Every entry carries its version, so a reader that fetched
    a tweet just before an edit or a delete cannot cache the old copy over the new one;
    a deleted tweet is cached as a tombstone and reads as absent.

    With ``count_replies`` reply counts are cached the same way. A reader versions the
    count with the moment before it counted; a reply posted or deleted marks its parent
    changed with a moment `SETTLING` after the store took it (and above every version
    this process gave out), which no count begun earlier, or begun while the reply index
    may lag, can replace. Processes' clocks must agree to within `SETTLING`; a count left
    stale by a worse clock lives one tweet TTL at most.

    Without a cache (``cache`` None) it reads the store alone."""

    def __init__(
        self,
        *,
        cache: FeedCache | None,
        tweets: TweetStore,
        now: Callable[[], datetime],
        count_replies: bool = False,
    ) -> None:
        self._cache = cache
        self._tweets = tweets
        self._now = now
        self._count_replies = count_replies and cache is not None
        self._highest = 0  # the highest reply-count version this process gave out
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

    async def reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        wanted = list(dict.fromkeys(tweet_ids))
        if not self._count_replies or not wanted:
            return await self._tweets.reply_counts(wanted)
        assert self._cache is not None
        found = await self._cache.get_reply_counts(wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            version = counted_at(self._now())  # before counting, never after
            self._highest = max(self._highest, version)
            fresh = await self._tweets.reply_counts(missing)
            await self._cache.put_reply_counts({i: (version, n) for i, n in fresh.items()})
            found.update(fresh)
        return found

    async def replies_changed(self, parent_id: int | None) -> None:
        """A reply to ``parent_id`` was stored or deleted (call it after the store did)."""
        if parent_id is not None and self._count_replies:
            assert self._cache is not None
            version = max(changed_at(self._now() + SETTLING), self._highest + 1) | 1
            self._highest = version
            await self._cache.put_reply_counts({parent_id: (version, None)})

    async def refresh(self, tweet: Tweet) -> None:
        """Cache ``tweet`` as it now is (after an edit)."""
        if self._cache is not None:
            await self._cache.put_tweets({tweet.tweet_id: (version_of(tweet), tweet)})

    async def bury(self, tweet_ids: Iterable[int]) -> None:
        """Mark tweets deleted, so no cached copy of them is served again."""
        if self._cache is not None:
            await self._cache.put_tweets(tombstones(tweet_ids))
