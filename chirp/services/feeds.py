"""The home feed read path: cached feed, celebrities merged, hydrated, paged."""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator
from dataclasses import dataclass

from chirp.fanout_policy import FanoutPolicy, Tier
from storage.protocols import FeedCache, GraphStore, TweetStore

from .fanout import FOLLOW_MERGE
from .tweets import TweetService, TweetView
from .users import UserService

FEED_LENGTH = 1000


@dataclass(frozen=True)
class FeedPage:
    tweets: list[TweetView]
    next_cursor: int | None
    regenerated: bool  # the cache missed and the feed was rebuilt from the stores


class FeedService:
    """Reads a home feed as the seed draws it: range the cached feed (regenerating it from
    the tweet store on a miss), merge followed celebrities' recent tweets, sort newest
    first, hydrate in one batch, page. Tweets deleted since, or by someone no longer
    followed, are filtered out here too, whatever the cache still holds.

    A reader not active within the fan-out's window (as of before this read) may have
    been skipped by pushes, so their feed is regenerated rather than read (as Mastodon
    does for returning users)."""

    def __init__(
        self,
        *,
        cache: FeedCache,
        graph: GraphStore,
        tweets: TweetStore,
        tweet_service: TweetService,
        users: UserService,
        policy: FanoutPolicy = FanoutPolicy(),
    ) -> None:
        self._users = users
        self._cache = cache
        self._graph = graph
        self._tweets = tweets
        self._tweet_service = tweet_service
        self._policy = policy

    async def read(self, user_id: int, *, limit: int, max_id: int | None) -> FeedPage:
        followees = {user_id, *[f async for f in self._following(user_id)]}
        counts = await self._graph.counts(followees)
        celebrities = {
            f
            for f in followees
            if f != user_id and self._policy.tier_for(counts[f][0]) is Tier.PULL
        }
        cached = None
        if await self._users.active_among([user_id], self._policy.active_window):
            cached = await self._cache.feed(user_id, limit=FEED_LENGTH, max_id=max_id)
        # else the fan-out may have skipped them while they were away: rebuild.
        regenerated = cached is None
        await self._users.seen(user_id)  # reading one's feed is activity, however it came
        if cached is None:
            built = await self._regenerate(followees - celebrities)
            await self._cache.store_feed(user_id, built)
            cached = [i for i in built if max_id is None or i <= max_id]
        ids = set(cached)
        for recent in (await self._celebrity_tweets(celebrities)).values():
            ids.update(i for i in recent if max_id is None or i <= max_id)
        newest = sorted(ids, reverse=True)
        shown: list[TweetView] = []
        for start in range(0, len(newest), 2 * limit):
            chunk = newest[start : start + 2 * limit]
            views = await self._tweet_service.views(chunk, viewer=user_id)
            shown.extend(v for v in views if v.tweet.user_id in followees)
            if len(shown) > limit:
                break
        more = len(shown) > limit
        shown = shown[:limit]
        cursor = shown[-1].tweet.tweet_id - 1 if more and shown else None
        return FeedPage(shown, cursor, regenerated)

    async def _regenerate(self, authors: set[int]) -> list[int]:
        """The newest `FEED_LENGTH` tweets of ``authors``, newest first."""
        timelines = [
            [t.tweet_id for t in await self._tweets.by_user(a, limit=FEED_LENGTH)] for a in authors
        ]
        merged = heapq.merge(*timelines, reverse=True)
        return [i for _, i in zip(range(FEED_LENGTH), merged, strict=False)]

    async def _celebrity_tweets(self, celebrities: set[int]) -> dict[int, list[int]]:
        found = await self._cache.celeb_recent(celebrities, limit=FOLLOW_MERGE)
        for celebrity in celebrities - found.keys():
            recent = await self._tweets.by_user(celebrity, limit=FOLLOW_MERGE)
            found[celebrity] = [t.tweet_id for t in recent]
            await self._cache.store_celeb(celebrity, found[celebrity])
        return found

    async def _following(self, user_id: int) -> AsyncIterator[int]:
        cursor = None
        while True:
            page = await self._graph.following(user_id, limit=1000, before=cursor)
            for followee in page.items:
                yield followee
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
