"""A cache node: one actor playing one Redis Cluster node for the keys of its slots."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import trio

from actors import Actor
from storage.cache_ttl import CacheTTL

from .feedring import FeedRing

#: What indexes one feed beyond its ring: its (ring, expiry) pair, its key and its expiry.
FEED_INDEX_BYTES = sys.getsizeof((0, 0.0)) + sys.getsizeof(2**40) + sys.getsizeof(0.0)


class CacheNode(Actor):
    """Holds the feeds, celebrity lists, tweets and reply counts of its slots, in memory that
    dies with it.

    Requests are ``(operation, *arguments)`` tuples; each operation is a method below and
    runs without awaiting, so a request is applied whole or not at all. Expired entries
    are dropped when touched and swept on a timer.
    """

    def __init__(self, ttl: CacheTTL, clock: Callable[[], float] = trio.current_time) -> None:
        self._ttl = ttl
        self._clock = clock
        self._feeds: dict[int, tuple[FeedRing, float]] = {}  # user -> (ids, expires at)
        self._celebs: dict[int, tuple[FeedRing, float]] = {}  # author -> (ids, expires at)
        self._tweets: dict[int, tuple[Any, int, float]] = {}  # id -> (tweet, version, expires)
        self._replies: dict[int, tuple[Any, int, float]] = {}  # id -> (count, version, expires)

    async def receive(self, message: Any) -> Any:
        operation, *arguments = message
        return getattr(self, f"_{operation}")(*arguments)

    def describe(self) -> dict[str, Any]:
        return {
            "feeds": len(self._feeds),
            "feed_entries": sum(len(ring) for ring, _ in self._feeds.values()),
            "tweets": len(self._tweets),
            "reply_counts": len(self._replies),
            "celebrities": len(self._celebs),
        }

    def _memory(self) -> dict[str, int]:
        """What the feeds hold and take: entries, and bytes for the rings and for what
        indexes them (the dict, and per feed its key, expiry and pair)."""
        rings = [ring for ring, _ in self._feeds.values()]
        taken = sum(ring.footprint for ring in rings) + len(rings) * FEED_INDEX_BYTES
        return {
            "feeds": len(rings),
            "feed_entries": sum(len(ring) for ring in rings),
            "feed_bytes": taken + sys.getsizeof(self._feeds),
        }

    def _push(self, entries: list[tuple[int, int]]) -> int:
        # The fan-out's hot loop: `_live_feed` inlined (an expired feed is left for the
        # sweeper or its next read to drop; a push never lands in it).
        added, now, feeds = 0, self._clock(), self._feeds
        for user_id, tweet_id in entries:
            held = feeds.get(user_id)
            if held is not None and held[1] > now and held[0].add(tweet_id):
                added += 1
        return added

    def _remove(self, entries: list[tuple[int, int]]) -> int:
        removed = 0
        for user_id, tweet_id in entries:
            held = self._feeds.get(user_id)
            if held is not None and held[0].discard(tweet_id):
                removed += 1
        return removed

    def _feed(self, user_id: int, limit: int, max_id: int | None) -> list[int] | None:
        now = self._clock()
        feed = self._live_feed(user_id, now)
        if feed is None:
            return None
        self._feeds[user_id] = (feed, now + self._ttl.feed)
        return feed.newest(limit, max_id)

    def _store_feed(self, user_id: int, tweet_ids: list[int]) -> None:
        ring = FeedRing(self._ttl.feed_capacity, tweet_ids)
        self._feeds[user_id] = (ring, self._clock() + self._ttl.feed)

    def _drop_feed(self, user_id: int) -> None:
        self._feeds.pop(user_id, None)

    def _celeb_push(self, entries: list[tuple[int, int]]) -> None:
        now = self._clock()
        for author_id, tweet_id in entries:
            ring = self._live_celeb(author_id, now)
            if ring is not None:
                ring.add(tweet_id)

    def _celeb_remove(self, author_id: int, tweet_id: int) -> None:
        ring = self._live_celeb(author_id, self._clock())
        if ring is not None:
            ring.discard(tweet_id)

    def _celeb_recent(
        self, author_ids: list[int], limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        now, found = self._clock(), {}
        for author_id in author_ids:
            ring = self._live_celeb(author_id, now)
            if ring is not None:
                found[author_id] = ring.newest(limit, max_id)
        return found

    def _store_celeb(self, author_id: int, tweet_ids: list[int]) -> None:
        now = self._clock()
        ring = self._live_celeb(author_id, now)
        if ring is None:
            ring = FeedRing(self._ttl.celeb_capacity)
            self._celebs[author_id] = (ring, now + self._ttl.celeb)
        for tweet_id in tweet_ids:
            ring.add(tweet_id)

    def _drop_celeb(self, author_id: int) -> None:
        self._celebs.pop(author_id, None)

    def _drop_feeds(self, user_ids: list[int]) -> None:
        for user_id in user_ids:
            self._feeds.pop(user_id, None)

    def _get_tweets(self, tweet_ids: list[int]) -> dict[int, Any]:
        return self._get_versioned(self._tweets, tweet_ids)

    def _put_tweets(self, tweets: dict[int, tuple[int, Any]]) -> None:
        self._put_versioned(self._tweets, tweets)

    def _get_reply_counts(self, tweet_ids: list[int]) -> dict[int, Any]:
        return self._get_versioned(self._replies, tweet_ids)

    def _put_reply_counts(self, counts: dict[int, tuple[int, Any]]) -> None:
        self._put_versioned(self._replies, counts)

    def _get_versioned(self, table: dict[int, tuple[Any, int, float]], ids: list[int]) -> Any:
        now, found = self._clock(), {}
        for key in ids:
            held = table.get(key)
            if held is None:
                continue
            if held[2] <= now:
                del table[key]
            else:
                found[key] = held[0]
        return found

    def _put_versioned(
        self, table: dict[int, tuple[Any, int, float]], values: dict[int, tuple[int, Any]]
    ) -> None:
        now = self._clock()
        expires = now + self._ttl.tweet
        for key, (version, value) in values.items():
            held = table.get(key)
            if held is None or held[1] < version or held[2] <= now:
                table[key] = (value, version, expires)

    def _sweep(self) -> int:
        """Drop whatever has expired; how many entries went."""
        now = self._clock()
        feeds = [u for u, (_, expires) in self._feeds.items() if expires <= now]
        tweets = [t for t, (_, _, expires) in self._tweets.items() if expires <= now]
        replies = [t for t, (_, _, expires) in self._replies.items() if expires <= now]
        celebs = [a for a, (_, expires) in self._celebs.items() if expires <= now]
        for user_id in feeds:
            del self._feeds[user_id]
        for tweet_id in tweets:
            del self._tweets[tweet_id]
        for author_id in celebs:
            del self._celebs[author_id]
        for tweet_id in replies:
            del self._replies[tweet_id]
        return len(feeds) + len(tweets) + len(celebs) + len(replies)

    def _live_celeb(self, author_id: int, now: float) -> FeedRing | None:
        held = self._celebs.get(author_id)
        if held is None:
            return None
        if held[1] <= now:
            del self._celebs[author_id]
            return None
        return held[0]

    def _live_feed(self, user_id: int, now: float) -> FeedRing | None:
        held = self._feeds.get(user_id)
        if held is None:
            return None
        if held[1] <= now:
            del self._feeds[user_id]
            return None
        return held[0]
