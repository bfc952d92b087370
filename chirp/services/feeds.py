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
CATCH_UP = 5  # each author's newest tweets pushed again once a rebuilt feed is stored
MIN_WINDOW = 20  # ids taken from each source at a time: a page, plus room for what is dropped


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
        self.pages_from_cache = 0  # reads served from the cached feed (for the metrics)
        self.pages_regenerated = 0  # reads that rebuilt it

    async def read(self, user_id: int, *, limit: int, max_id: int | None) -> FeedPage:
        followees = {user_id, *[f async for f in self._following(user_id)]}
        counts = await self._graph.counts(followees)
        pulled = {
            f
            for f in followees
            if f != user_id and self._policy.tier_for(counts[f][0]) is Tier.PULL
        }
        window = max(2 * limit, MIN_WINDOW)
        first = None
        if await self._users.active_among([user_id], self._policy.active_window):
            first = await self._cache.feed(user_id, limit=window, max_id=max_id)
        # else the fan-out may have skipped them while they were away: rebuild.
        regenerated = first is None
        await self._users.seen(user_id)  # reading one's feed is activity, however it came
        built = await self._rebuild(user_id, followees - pulled) if regenerated else None

        # Window by window, newest first: each source's newest `window` ids under the
        # cursor, merged; hydrated; what is deleted or no longer followed dropped.
        shown: list[TweetView] = []
        cursor = max_id
        while len(shown) <= limit:
            if built is not None:
                pushed = [i for i in built if cursor is None or i <= cursor][:window]
            elif first is not None:
                pushed, first = first, None
            else:
                pushed = await self._cache.feed(user_id, limit=window, max_id=cursor)
                if pushed is None:  # gone between two windows: a node restarted, a TTL ran out
                    built, regenerated = await self._rebuild(user_id, followees - pulled), True
                    continue
            lists = [pushed, *await self._pulled(pulled, window, cursor)]
            merged = sorted({i for ids in lists for i in ids}, reverse=True)
            candidates = merged[:window]
            if not candidates:
                break
            # Hydrated as needed: most candidates survive, so most reads hydrate just the
            # page and the one past it that tells whether there is more.
            taken = 0
            while taken < len(candidates) and len(shown) <= limit:
                chunk = candidates[taken : taken + limit + 1 - len(shown)]
                taken += len(chunk)
                views = await self._tweet_service.views(chunk, viewer=user_id)
                shown.extend(v for v in views if v.tweet.user_id in followees)
            if len(shown) > limit:
                break
            if len(merged) <= window and all(len(ids) < window for ids in lists):
                break  # every source is exhausted
            cursor = candidates[-1] - 1
        more = len(shown) > limit
        shown = shown[:limit]
        next_cursor = shown[-1].tweet.tweet_id - 1 if more and shown else None
        if regenerated:
            self.pages_regenerated += 1
        else:
            self.pages_from_cache += 1
        return FeedPage(shown, next_cursor, regenerated)

    async def _rebuild(self, user_id: int, authors: set[int]) -> list[int]:
        """Regenerate the feed from the tweet store and cache it."""
        built = await self._regenerate(authors)
        await self._cache.store_feed(user_id, built)
        # A tweet stored after its author's timeline was read above, and fanned out before
        # the feed was stored, found no feed to land in. Push the authors' newest again
        # (pushes are idempotent) now that it exists.
        newest = await self._tweets.newest_ids(authors, limit=CATCH_UP)
        await self._cache.push([(user_id, i) for ids in newest.values() for i in ids])
        return built

    async def _regenerate(self, authors: set[int]) -> list[int]:
        """The newest `FEED_LENGTH` tweets of ``authors``, newest first."""
        timelines = await self._tweets.newest_ids(authors, limit=FEED_LENGTH)
        merged = heapq.merge(*timelines.values(), reverse=True)
        return [i for _, i in zip(range(FEED_LENGTH), merged, strict=False)]

    async def _pulled(self, authors: set[int], window: int, cursor: int | None) -> list[list[int]]:
        """Per pulled author, their newest `window` tweet ids under ``cursor``: from their
        cached recent tweets (``celeb:{id}``, loaded from the store on a miss), or, when
        the policy caches none (pure pull), from the tweet store itself."""
        if not authors:
            return []
        if not self._policy.cache_pulled:
            pulled = await self._tweets.newest_ids(authors, limit=window, max_id=cursor)
            return list(pulled.values())
        found = await self._cache.celeb_recent(authors, limit=window, max_id=cursor)
        missed = await self._tweets.newest_ids(authors - found.keys(), limit=FOLLOW_MERGE)
        for author, recent in missed.items():
            await self._cache.store_celeb(author, recent)
            found[author] = [i for i in recent if cursor is None or i <= cursor][:window]
        return list(found.values())

    async def _following(self, user_id: int) -> AsyncIterator[int]:
        cursor = None
        while True:
            page = await self._graph.following(user_id, limit=1000, before=cursor)
            for followee in page.items:
                yield followee
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
