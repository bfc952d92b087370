"""Likes and retweets, in this process."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from storage.timing import timed


@timed
class MemoryEngagementStore:
    """An `EngagementStore`: per tweet, the users who liked it and, for each user who
    retweeted it, the id of their retweet."""

    #: The calls that change the store, which the durable mode journals (storage.durable).
    MUTATIONS: ClassVar[tuple[str, ...]] = (
        "like",
        "unlike",
        "retweet",
        "unretweet",
        "forget_tweet",
    )

    def __init__(self) -> None:
        self._likes: dict[int, set[int]] = {}
        self._retweets: dict[int, dict[int, int]] = {}

    async def like(self, user_id: int, tweet_id: int) -> bool:
        likers = self._likes.setdefault(tweet_id, set())
        if user_id in likers:
            return False
        likers.add(user_id)
        return True

    async def unlike(self, user_id: int, tweet_id: int) -> bool:
        likers = self._likes.get(tweet_id)
        if not likers or user_id not in likers:
            return False
        likers.remove(user_id)
        return True

    async def retweet(self, user_id: int, tweet_id: int, retweet_id: int) -> int | None:
        retweeters = self._retweets.setdefault(tweet_id, {})
        existing = retweeters.get(user_id)
        if existing is not None:
            return existing
        retweeters[user_id] = retweet_id
        return None

    async def unretweet(self, user_id: int, tweet_id: int) -> int | None:
        return self._retweets.get(tweet_id, {}).pop(user_id, None)

    async def liked(self, user_id: int, tweet_ids: Iterable[int]) -> set[int]:
        likes = self._likes
        return {t for t in tweet_ids if user_id in likes.get(t, ())}

    async def retweeted(self, user_id: int, tweet_ids: Iterable[int]) -> dict[int, int]:
        retweets = self._retweets
        return {t: retweets[t][user_id] for t in tweet_ids if user_id in retweets.get(t, ())}

    async def counts(self, tweet_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        likes, retweets = self._likes, self._retweets
        return {t: (len(likes.get(t, ())), len(retweets.get(t, ()))) for t in tweet_ids}

    async def retweets_of(self, tweet_id: int) -> list[int]:
        return list(self._retweets.get(tweet_id, {}).values())

    async def forget_tweet(self, tweet_id: int) -> list[int]:
        self._likes.pop(tweet_id, None)
        return list(self._retweets.pop(tweet_id, {}).values())

    def snapshot_state(self) -> dict[str, Any]:
        """Likers and retweeters per tweet, copied (the sets and maps change in place)."""
        return {
            "likes": {t: sorted(users) for t, users in self._likes.items()},
            "retweets": {t: dict(users) for t, users in self._retweets.items()},
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this store, which holds nothing yet."""
        self._likes.update((t, set(users)) for t, users in state["likes"].items())
        self._retweets.update(state["retweets"])
