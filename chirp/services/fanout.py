"""Fan-out: the consumer side of the write path, filling followers' cached feeds."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

from chirp.fanout_policy import FanoutPolicy, Tier
from storage.protocols import FeedCache, GraphStore, Record, TweetStore

from .stream import Hub
from .tweet_cache import tombstones, version_of
from .users import UserService

#: The topics the fan-out group consumes.
FANOUT_TOPICS = (
    "tweet_created",
    "retweet_created",
    "tweet_deleted",
    "tweet_edited",
    "user_followed",
    "user_unfollowed",
)
FOLLOW_MERGE = 200  # a new followee's recent tweets merged into the follower's feed
SPREAD_TOPICS = frozenset({"tweet_created", "retweet_created"})
FLUSH_AT = 10_000  # feed entries held before they go to the cache nodes


class FanoutService:
    """Applies log events to the feed cache under the seed's hybrid policy. Every handler is
    idempotent (feeds are sets of ids), so a redelivered batch changes nothing."""

    def __init__(
        self,
        *,
        graph: GraphStore,
        tweets: TweetStore,
        users: UserService,
        cache: FeedCache,
        policy: FanoutPolicy = FanoutPolicy(),
        hub: Hub | None = None,
    ) -> None:
        self._hub = hub or Hub()
        self._graph = graph
        self._tweets = tweets
        self._users = users
        self._cache = cache
        self._policy = policy
        self.writes: Counter[Tier] = Counter()  # feed entries written, per tier

    @property
    def policy(self) -> FanoutPolicy:
        return self._policy

    async def apply(self, records: Sequence[Record]) -> None:
        """The consumer group's handler: each record by its topic, in order. A run of new
        tweets is spread as one: its feed writes go out together, in full batches."""
        spreading: list[tuple[int, int]] = []
        for record in records:
            if record.topic in SPREAD_TOPICS:
                spreading.append((record.value["user_id"], record.value["tweet_id"]))
                continue
            if spreading:
                await self.spread(spreading)
                spreading = []
            await self._handlers[record.topic](self, record.value)
        if spreading:
            await self.spread(spreading)

    async def spread(self, tweets: Sequence[tuple[int, int]]) -> None:
        """Push each (author, tweet) to the author's feed and, by the author's tier, to
        their followers' feeds."""
        counts = await self._graph.counts({author for author, _ in tweets})
        entries: list[tuple[int, int]] = []
        pulled: list[tuple[int, int]] = []
        told: list[tuple[int, int]] = []  # (user, tweet) for open streams
        hub = self._hub
        for author_id, tweet_id in tweets:
            tier = self._policy.tier_for(counts[author_id][0])
            entries.append((author_id, tweet_id))
            self.writes[tier] += 1
            if hub.listening(author_id):
                told.append((author_id, tweet_id))
            if tier is Tier.PULL:
                pulled.append((author_id, tweet_id))
                # Merged at read time, but new in their feeds all the same.
                for listener in hub.listeners():
                    if await self._graph.is_following(listener, author_id):
                        told.append((listener, tweet_id))
                continue
            async for page in self._followers(author_id):
                if tier is Tier.PUSH_ACTIVE:
                    active = await self._users.active_among(page, self._policy.active_window)
                    page = [f for f in page if f in active]
                entries.extend([(follower, tweet_id) for follower in page])
                if hub.listeners():
                    told.extend((f, tweet_id) for f in page if hub.listening(f))
                self.writes[tier] += len(page)
                if len(entries) >= FLUSH_AT:
                    await self._cache.push(entries)
                    entries = []
        if self._policy.cache_pulled:
            await self._cache.celeb_push(pulled)
        await self._cache.push(entries)
        for user_id, tweet_id in told:
            self._hub.publish(user_id, {"type": "feed", "tweet_id": str(tweet_id)})

    async def withdraw(self, author_id: int, tweet_id: int) -> None:
        """Take a deleted tweet out of every feed it may have reached."""
        await self._cache.celeb_remove(author_id, tweet_id)
        await self._cache.put_tweets(tombstones([tweet_id]))
        entries = [(author_id, tweet_id)]
        async for page in self._followers(author_id):
            entries.extend((follower, tweet_id) for follower in page)
        await self._cache.remove(entries)

    async def _on_delete(self, event: dict[str, Any]) -> None:
        await self.withdraw(event["user_id"], event["tweet_id"])

    async def _on_edit(self, event: dict[str, Any]) -> None:
        # The editor caches the new text itself; this covers an editor whose cache write
        # was lost. Edits are announced before they are applied: until the store holds
        # this edit (or a later one) there is nothing newer to cache.
        tweet = await self._tweets.get(event["tweet_id"])
        if tweet is not None and version_of(tweet) // 1000 >= event["edited_at"]:
            await self._cache.put_tweets({tweet.tweet_id: (version_of(tweet), tweet)})

    async def _on_follow(self, event: dict[str, Any]) -> None:
        followee = event["followee_id"]
        followers = (await self._graph.counts([followee]))[followee][0]
        if self._policy.tier_for(followers) is Tier.PULL:
            return  # a celebrity's tweets are merged at read time
        recent = await self._tweets.newest_ids([followee], limit=FOLLOW_MERGE)
        await self._cache.push((event["follower_id"], i) for i in recent[followee])

    async def _on_unfollow(self, event: dict[str, Any]) -> None:
        # The next read regenerates the feed from the follows as they are now.
        await self._cache.drop_feed(event["follower_id"])
        if event.get("followers_after") == self._policy.pull_above:
            # This unfollow took a celebrity back to a pushed tier: their tweets from the
            # pull era are in no feed, and reads stop merging them. Rebuild those feeds.
            followee = event["followee_id"]
            await self._cache.drop_celeb(followee)
            async for page in self._followers(followee):
                await self._cache.drop_feeds(page)

    _handlers = {
        "tweet_deleted": _on_delete,
        "tweet_edited": _on_edit,
        "user_followed": _on_follow,
        "user_unfollowed": _on_unfollow,
    }

    async def _followers(self, user_id: int) -> AsyncIterator[list[int]]:
        cursor = None
        while True:
            page = await self._graph.followers(user_id, limit=1000, before=cursor)
            if page.items:
                yield page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor
