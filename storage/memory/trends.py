"""Trending tables and hashtag uses, in this process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

from sortedcontainers import SortedKeyList

from chirp.model import Trend
from storage.protocols import DELETED_VERSION, TweetTags
from storage.timing import timed


class _Table:
    __slots__ = ("by_tag", "tweets", "trends")

    def __init__(self) -> None:
        self.tweets: dict[int, TweetTags] = {}
        self.by_tag: defaultdict[str, set[int]] = defaultdict(set)
        self.trends: SortedKeyList = SortedKeyList(key=_rank)


@timed
class MemoryTrendStore:
    """A `TrendStore`. Each table's trends sit in a list sorted by score (what a Redis
    ZSET gives ZREVRANGE); its tweets are indexed by hashtag."""

    #: The calls that change the store, which the durable mode journals (storage.durable):
    #: ``uses`` too, which forgets the uses older than it is asked for.
    MUTATIONS: ClassVar[tuple[str, ...]] = ("set_uses", "uses", "replace")

    def __init__(self) -> None:
        self._tables: defaultdict[str, _Table] = defaultdict(_Table)

    async def set_uses(self, table: str, tweets: Iterable[TweetTags]) -> None:
        held_table = self._tables[table]
        held_tweets, by_tag = held_table.tweets, held_table.by_tag
        for tweet in tweets:
            held = held_tweets.get(tweet.tweet_id)
            if held is None and not tweet.hashtags and not _overrides(tweet):
                continue  # most tweets: nothing to count here
            if held is not None:
                if held.version >= tweet.version:
                    continue
                self._untag(by_tag, held)
            held_tweets[tweet.tweet_id] = tweet
            for hashtag in tweet.hashtags:
                by_tag[hashtag].add(tweet.tweet_id)

    async def uses(self, table: str, since: float) -> dict[str, list[tuple[int, float]]]:
        held_table = self._tables[table]
        held_tweets, by_tag = held_table.tweets, held_table.by_tag
        for tweet in [t for t in held_tweets.values() if t.at < since]:
            del held_tweets[tweet.tweet_id]
            self._untag(by_tag, tweet)
        return {
            hashtag: [(held_tweets[i].author_id, held_tweets[i].at) for i in ids]
            for hashtag, ids in by_tag.items()
        }

    async def replace(self, table: str, trends: Iterable[Trend]) -> None:
        self._tables[table].trends = SortedKeyList(trends, key=_rank)

    async def top(self, table: str, limit: int) -> list[Trend]:
        held = self._tables.get(table)
        return [] if held is None else list(held.trends[:limit])

    def snapshot_state(self) -> dict[str, Any]:
        """Per table, the tweets' tags and the trends, in containers of its own (the
        records are immutable); the hashtag index is rebuilt (`restore_state`)."""
        return {
            name: {"tweets": list(table.tweets.values()), "trends": list(table.trends)}
            for name, table in self._tables.items()
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this store, which holds nothing yet."""
        for name, held in state.items():
            table = self._tables[name]
            for tweet in held["tweets"]:
                table.tweets[tweet.tweet_id] = tweet
                for hashtag in tweet.hashtags:
                    table.by_tag[hashtag].add(tweet.tweet_id)
            table.trends = SortedKeyList(held["trends"], key=_rank)

    @staticmethod
    def _untag(by_tag: defaultdict[str, set[int]], tweet: TweetTags) -> None:
        for hashtag in tweet.hashtags:
            ids = by_tag[hashtag]
            ids.discard(tweet.tweet_id)
            if not ids:
                del by_tag[hashtag]


def _rank(trend: Trend) -> tuple[float, str]:
    return (-trend.score, trend.hashtag)


def _overrides(tweet: TweetTags) -> bool:
    """Kept with no tags: a deletion or an edit, which may come before the creation."""
    return tweet.edited or tweet.version == DELETED_VERSION
