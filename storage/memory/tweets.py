"""Tweets, in this process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from itertools import islice
from typing import Any, ClassVar

from sortedcontainers import SortedList

from chirp.model import Tweet, TweetVersion
from storage.timing import timed


@timed
class MemoryTweetStore:
    """A `TweetStore`: tweets by id, and sorted id lists per author and per parent (a
    Snowflake sorts by time, so the lists are timelines)."""

    #: The calls that change the store, which the durable mode journals (storage.durable).
    MUTATIONS: ClassVar[tuple[str, ...]] = ("put", "edit", "delete")

    def __init__(self) -> None:
        self._tweets: dict[int, Tweet] = {}
        self._by_user: defaultdict[int, SortedList] = defaultdict(SortedList)
        self._replies: defaultdict[int, SortedList] = defaultdict(SortedList)
        self._history: dict[int, list[TweetVersion]] = {}
        self._by_tag: defaultdict[str, SortedList] = defaultdict(SortedList)

    async def put(self, tweet: Tweet) -> None:
        if tweet.tweet_id in self._tweets:
            raise ValueError(f"tweet {tweet.tweet_id} exists already")
        self._tweets[tweet.tweet_id] = tweet
        self._by_user[tweet.user_id].add(tweet.tweet_id)
        if tweet.reply_to is not None:
            self._replies[tweet.reply_to].add(tweet.tweet_id)
        self._index_tags(tweet, add=True)

    async def get(self, tweet_id: int) -> Tweet | None:
        return self._tweets.get(tweet_id)

    async def get_many(self, tweet_ids: Iterable[int]) -> dict[int, Tweet]:
        tweets = self._tweets
        return {i: tweets[i] for i in tweet_ids if i in tweets}

    async def edit(self, tweet: Tweet, previous: TweetVersion) -> None:
        if tweet.tweet_id not in self._tweets:
            raise KeyError(tweet.tweet_id)
        self._index_tags(self._tweets[tweet.tweet_id], add=False)
        self._tweets[tweet.tweet_id] = tweet
        self._index_tags(tweet, add=True)
        self._history.setdefault(tweet.tweet_id, []).append(previous)

    async def history(self, tweet_id: int) -> list[TweetVersion]:
        return list(self._history.get(tweet_id, ()))

    async def delete(self, tweet_id: int) -> Tweet | None:
        tweet = self._tweets.pop(tweet_id, None)
        if tweet is None:
            return None
        self._by_user[tweet.user_id].discard(tweet_id)
        if tweet.reply_to is not None:
            self._replies[tweet.reply_to].discard(tweet_id)
        self._index_tags(tweet, add=False)
        self._history.pop(tweet_id, None)
        return tweet

    async def by_user(
        self, user_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        return self._newest(self._by_user.get(user_id), limit, max_id, since_id)

    async def newest_ids(
        self, user_ids: Iterable[int], *, limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        by_user = self._by_user
        found = {}
        for user_id in user_ids:
            ids = by_user.get(user_id)
            chosen = ids.irange(None, max_id, reverse=True) if ids else ()
            found[user_id] = list(islice(chosen, limit))
        return found

    async def replies(
        self, tweet_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        return self._newest(self._replies.get(tweet_id), limit, max_id, since_id)

    async def tweet_counts(self, user_ids: Iterable[int]) -> dict[int, int]:
        by_user = self._by_user
        return {i: len(by_user.get(i, ())) for i in user_ids}

    async def reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        replies = self._replies
        return {i: len(replies.get(i, ())) for i in tweet_ids}

    async def by_hashtag(
        self, tag: str, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        return self._newest(self._by_tag.get(tag.casefold()), limit, max_id, since_id)

    def newest_id(self) -> int:
        """The highest tweet id held (0 for none)."""
        return max(self._tweets, default=0)

    def snapshot_state(self) -> dict[str, Any]:
        """The tweets and their edit histories, in containers of its own (the records are
        immutable); `restore_state` rebuilds the timelines and indexes from them."""
        return {
            "tweets": list(self._tweets.values()),
            "history": {i: list(versions) for i, versions in self._history.items()},
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this store, which holds nothing yet."""
        by_user: defaultdict[int, list[int]] = defaultdict(list)
        replies: defaultdict[int, list[int]] = defaultdict(list)
        by_tag: defaultdict[str, list[int]] = defaultdict(list)
        for tweet in state["tweets"]:
            self._tweets[tweet.tweet_id] = tweet
            by_user[tweet.user_id].append(tweet.tweet_id)
            if tweet.reply_to is not None:
                replies[tweet.reply_to].append(tweet.tweet_id)
            for tag in {t.casefold() for t in tweet.hashtags}:
                by_tag[tag].append(tweet.tweet_id)
        for index, built in (
            (self._by_user, by_user),
            (self._replies, replies),
            (self._by_tag, by_tag),
        ):
            for key, ids in built.items():
                index[key] = SortedList(ids)
        self._history.update(state["history"])

    def _index_tags(self, tweet: Tweet, *, add: bool) -> None:
        for tag in {t.casefold() for t in tweet.hashtags}:
            if add:
                self._by_tag[tag].add(tweet.tweet_id)
            else:
                self._by_tag[tag].discard(tweet.tweet_id)

    def _newest(
        self, ids: SortedList | None, limit: int, max_id: int | None, since_id: int | None
    ) -> list[Tweet]:
        if not ids:
            return []
        chosen = ids.irange(since_id, max_id, inclusive=(False, True), reverse=True)
        return [self._tweets[i] for i in islice(chosen, limit)]
