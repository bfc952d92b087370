"""Tweets: posting, reading, editing, deleting, likes, retweets and replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chirp import text
from chirp.ids import SnowflakeGenerator
from chirp.model import Tweet, TweetVersion, User
from storage.protocols import (
    EngagementStore,
    EventLog,
    FeedCache,
    LogUnavailable,
    TweetStore,
    UserStore,
)

from .errors import Forbidden, NotFound, RuleBroken, Unavailable
from .locks import KeyedLocks, whole
from .tweet_cache import TweetCache, version_of
from .users import utc_now

EDIT_WINDOW = timedelta(minutes=30)


@dataclass(frozen=True)
class SpamPolicy:
    """Refused before acceptance: the same text from the same user within ``repeat_window``,
    or more than ``max_links`` links in one tweet."""

    repeat_window: timedelta = timedelta(hours=1)
    max_links: int = 5


@dataclass(frozen=True)
class TweetView:
    """A tweet as a reader sees it: with its author, its counts and, for a signed-in
    reader, whether they liked or retweeted it. A retweet carries the original's view."""

    tweet: Tweet
    author: User
    like_count: int
    retweet_count: int
    reply_count: int
    liked: bool
    retweeted: bool
    retweet_of: TweetView | None = None


class TweetService:
    """The write path of the seed: validate, spam-check, store, publish. A write whose
    event the log does not acknowledge is undone and answered 503, so every tweet, like
    and retweet that exists was announced to the consumers (fan-out, search, trending…)."""

    def __init__(
        self,
        *,
        tweets: TweetStore,
        users: UserStore,
        engagement: EngagementStore,
        log: EventLog,
        ids: SnowflakeGenerator,
        spam: SpamPolicy = SpamPolicy(),
        now: Callable[[], datetime] = utc_now,
        cache: FeedCache | None = None,
        cache_reply_counts: bool = False,
    ) -> None:
        self._tweets = tweets
        # What hydration reads. Reply counts are worth caching where counting is a query
        # per tweet (DynamoDB), not where it is a len() in memory.
        self.cached = TweetCache(
            cache=cache, tweets=tweets, now=now, count_replies=cache_reply_counts
        )
        self._users = users
        self._engagement = engagement
        self._log = log
        self._ids = ids
        self._spam = spam
        self._now = now
        # One change at a time per tweet: the log publish in the middle of each change
        # yields, and two edits, or an edit and a delete, must not interleave there.
        self._lock = KeyedLocks()

    async def post(
        self,
        user_id: int,
        content: str,
        *,
        media_urls: list[str] | None = None,
        reply_to: int | None = None,
    ) -> TweetView:
        content = _checked(text.tweet_text, content)
        media = _checked(text.media_urls, media_urls or [])
        found = text.entities(content)
        if len(found.urls) > self._spam.max_links:
            raise RuleBroken(f"looks like spam: more than {self._spam.max_links} links")
        await self._refuse_repeats(user_id, content)
        if reply_to is not None and await self._tweets.get(reply_to) is None:
            raise RuleBroken(f"there is no tweet {reply_to} to reply to")
        tweet = Tweet(
            tweet_id=self._ids.next_id(),
            user_id=user_id,
            content=content,
            created_at=self._now(),
            media_urls=media,
            hashtags=found.hashtags,
            mentions=await self._known(found.mentions),
            urls=found.urls,
            reply_to=reply_to,
        )

        async def undo() -> None:
            await self._tweets.delete(tweet.tweet_id)
            await self.cached.replies_changed(reply_to)

        with whole():
            await self._tweets.put(tweet)
            await self._announce("tweet_created", tweet, undo=undo)
            await self.cached.replies_changed(reply_to)
            # Written through: a new tweet is about to be read from every feed it reaches.
            await self.cached.refresh(tweet)
        author = await self._users.get(user_id)
        if author is None:
            raise NotFound(f"there is no user {user_id}")
        return TweetView(
            tweet,
            author,
            like_count=0,
            retweet_count=0,
            reply_count=0,
            liked=False,
            retweeted=False,
        )

    async def view(self, tweet_id: int, *, viewer: int | None) -> TweetView:
        views = await self.views([tweet_id], viewer=viewer)
        if not views:
            raise NotFound(f"there is no tweet {tweet_id}")
        return views[0]

    async def views(self, tweet_ids: list[int], *, viewer: int | None) -> list[TweetView]:
        """Hydrate in batches: every lookup below is one call for all the tweets."""
        found = await self.cached.get_many(tweet_ids)
        originals = {t.retweet_of for t in found.values() if t.retweet_of is not None}
        found.update(await self.cached.get_many(originals - found.keys()))
        ids = list(found)
        authors = await self._users.get_many({t.user_id for t in found.values()})
        counts = await self._engagement.counts(ids)
        replies = await self.cached.reply_counts(ids)
        liked = await self._engagement.liked(viewer, ids) if viewer is not None else set()
        retweeted = await self._engagement.retweeted(viewer, ids) if viewer is not None else {}

        def build(tweet_id: int) -> TweetView | None:
            tweet = found.get(tweet_id)
            if tweet is None or tweet.user_id not in authors:
                return None
            original = None
            if tweet.retweet_of is not None:
                original = build(tweet.retweet_of)
                if original is None:
                    return None  # the original is gone, so is its retweet
            return TweetView(
                tweet,
                authors[tweet.user_id],
                *counts[tweet_id],
                replies[tweet_id],
                tweet_id in liked,
                tweet_id in retweeted,
                original,
            )

        return [view for view in map(build, tweet_ids) if view is not None]

    async def edit(self, user_id: int, tweet_id: int, content: str) -> TweetView:
        content = _checked(text.tweet_text, content)
        found = text.entities(content)
        if len(found.urls) > self._spam.max_links:
            raise RuleBroken(f"looks like spam: more than {self._spam.max_links} links")
        async with self._lock(tweet_id):
            tweet = await self._own(user_id, tweet_id, "edit")
            if tweet.retweet_of is not None:
                raise RuleBroken("a retweet has no text of its own to edit")
            if self._now() - tweet.created_at > EDIT_WINDOW:
                raise RuleBroken("a tweet can be edited only in the 30 minutes after it is posted")
            previous = TweetVersion.current(tweet)
            edited = replace(
                tweet,
                content=content,
                hashtags=found.hashtags,
                mentions=await self._known(found.mentions),
                urls=found.urls,
                # Later than the version it replaces even if the clock stepped back: the
                # tweet cache keeps whichever copy has the higher version.
                edited_at=max(self._now(), previous.valid_from + timedelta(microseconds=1)),
            )
            # Announced first, applied after: if the log is down nothing changes (503).
            with whole():
                await self._announce("tweet_edited", edited, undo=None)
                await self._tweets.edit(edited, previous)
                await self.cached.refresh(edited)
        return await self.view(tweet_id, viewer=user_id)

    async def history(self, tweet_id: int) -> tuple[Tweet, list[TweetVersion]]:
        tweet = await self._tweets.get(tweet_id)
        if tweet is None:
            raise NotFound(f"there is no tweet {tweet_id}")
        return tweet, await self._tweets.history(tweet_id)

    async def delete(self, user_id: int, tweet_id: int) -> None:
        async with self._lock(tweet_id):
            tweet = await self._own(user_id, tweet_id, "delete")
            await self._remove(tweet)

    async def like(self, user_id: int, tweet_id: int) -> TweetView:
        """Like a tweet (liking a retweet likes the original). Idempotent."""
        original = await self._original(tweet_id)
        async with self._lock(original.tweet_id):
            await self._original(original.tweet_id)  # not deleted meanwhile
            with whole():
                if await self._engagement.like(user_id, original.tweet_id):
                    event = {"user_id": user_id, "tweet_id": original.tweet_id}
                    await self._publish(
                        "like_added",
                        original.tweet_id,
                        event,
                        undo=lambda: self._engagement.unlike(user_id, original.tweet_id),
                    )
        return await self.view(original.tweet_id, viewer=user_id)

    async def unlike(self, user_id: int, tweet_id: int) -> TweetView:
        original = await self._original(tweet_id)
        async with self._lock(original.tweet_id):
            with whole():
                if await self._engagement.unlike(user_id, original.tweet_id):
                    event = {"user_id": user_id, "tweet_id": original.tweet_id}
                    await self._publish(
                        "like_removed",
                        original.tweet_id,
                        event,
                        undo=lambda: self._engagement.like(user_id, original.tweet_id),
                    )
        return await self.view(original.tweet_id, viewer=user_id)

    async def retweet(self, user_id: int, tweet_id: int) -> TweetView:
        """Retweet a tweet (a retweet of a retweet retweets the original). Once per user
        per tweet: retweeting again answers the existing retweet."""
        original = await self._original(tweet_id)
        retweet = Tweet(
            tweet_id=self._ids.next_id(),
            user_id=user_id,
            content="",
            created_at=self._now(),
            retweet_of=original.tweet_id,
        )
        async with self._lock(original.tweet_id):
            await self._original(original.tweet_id)  # not deleted meanwhile

            async def undo() -> None:
                await self._tweets.delete(retweet.tweet_id)
                await self._engagement.unretweet(user_id, original.tweet_id)

            with whole():
                existing = await self._engagement.retweet(
                    user_id, original.tweet_id, retweet.tweet_id
                )
                if existing is None:
                    await self._tweets.put(retweet)
                    await self._announce("retweet_created", retweet, undo=undo)
            if existing is not None:
                return await self.view(existing, viewer=user_id)
        return await self.view(retweet.tweet_id, viewer=user_id)

    async def unretweet(self, user_id: int, tweet_id: int) -> None:
        original = await self._original(tweet_id)
        async with self._lock(original.tweet_id):
            retweets = await self._engagement.retweeted(user_id, [original.tweet_id])
            retweet = await self._tweets.get(retweets[original.tweet_id]) if retweets else None
            if retweet is not None:
                await self._remove(retweet)

    async def replies(
        self,
        tweet_id: int,
        *,
        viewer: int | None,
        limit: int,
        max_id: int | None,
        since_id: int | None,
    ) -> tuple[list[TweetView], int | None]:
        await self._existing(tweet_id)
        found = await self._tweets.replies(
            tweet_id, limit=limit + 1, max_id=max_id, since_id=since_id
        )
        return await self._page(found, limit, viewer)

    async def timeline(
        self,
        user_id: int,
        *,
        viewer: int | None,
        limit: int,
        max_id: int | None,
        since_id: int | None,
    ) -> tuple[list[TweetView], int | None]:
        if await self._users.get(user_id) is None:
            raise NotFound(f"there is no user {user_id}")
        found = await self._tweets.by_user(
            user_id, limit=limit + 1, max_id=max_id, since_id=since_id
        )
        return await self._page(found, limit, viewer)

    async def hashtag(
        self,
        tag: str,
        *,
        viewer: int | None,
        limit: int,
        max_id: int | None,
        since_id: int | None,
    ) -> tuple[list[TweetView], int | None]:
        """The hashtag timeline (the seed's GSI-2), newest first. ``tag`` as written after
        the ``#``, any case."""
        if not text.is_hashtag(tag):
            raise RuleBroken("a hashtag is letters, digits or underscores, up to 100")
        found = await self._tweets.by_hashtag(
            tag, limit=limit + 1, max_id=max_id, since_id=since_id
        )
        return await self._page(found, limit, viewer)

    async def _page(
        self, found: list[Tweet], limit: int, viewer: int | None
    ) -> tuple[list[TweetView], int | None]:
        more = len(found) > limit
        found = found[:limit]
        views = await self.views([t.tweet_id for t in found], viewer=viewer)
        return views, (found[-1].tweet_id - 1 if more else None)

    async def _remove(self, tweet: Tweet) -> None:
        """Delete a tweet and the retweets that carry it, the retweets first and the tweet
        last, each announced before it is applied: if the log stops taking events midway
        (503), what is left is whole and a retry finishes the job."""
        with whole():
            for retweet_id in await self._engagement.retweets_of(tweet.tweet_id):
                retweet = await self._tweets.get(retweet_id)
                if retweet is not None:
                    await self._announce("tweet_deleted", retweet, undo=None)
                    await self._tweets.delete(retweet_id)
                    await self.cached.bury([retweet_id])
                    await self._engagement.unretweet(retweet.user_id, tweet.tweet_id)
            await self._announce("tweet_deleted", tweet, undo=None)
            await self._tweets.delete(tweet.tweet_id)
            await self.cached.replies_changed(tweet.reply_to)
            await self.cached.bury([tweet.tweet_id])
            await self._engagement.forget_tweet(tweet.tweet_id)
            if tweet.retweet_of is not None:
                await self._engagement.unretweet(tweet.user_id, tweet.retweet_of)

    async def _original(self, tweet_id: int) -> Tweet:
        """The tweet, or for a retweet the tweet it carries; NotFound if either is gone."""
        tweet = await self._existing(tweet_id)
        if tweet.retweet_of is None:
            return tweet
        return await self._existing(tweet.retweet_of)

    async def _own(self, user_id: int, tweet_id: int, verb: str) -> Tweet:
        tweet = await self._existing(tweet_id)
        if tweet.user_id != user_id:
            raise Forbidden(f"only its author can {verb} a tweet")
        return tweet

    async def _existing(self, tweet_id: int) -> Tweet:
        tweet = await self._tweets.get(tweet_id)
        if tweet is None:
            raise NotFound(f"there is no tweet {tweet_id}")
        return tweet

    async def _known(self, mentions: tuple[str, ...]) -> tuple[str, ...]:
        """The mentioned usernames that exist, as their owners spell them."""
        users = [await self._users.find(name) for name in mentions[:10]]
        return tuple(user.username for user in users if user is not None)

    async def _refuse_repeats(self, user_id: int, content: str) -> None:
        """The same text within the window, whatever else (retweets) came in between."""
        since = self._now() - self._spam.repeat_window
        max_id = None
        while True:
            recent = await self._tweets.by_user(user_id, limit=200, max_id=max_id)
            for tweet in recent:
                if tweet.created_at < since:
                    return
                if tweet.retweet_of is None and tweet.content == content:
                    raise RuleBroken("looks like spam: you posted the same text within the hour")
            if len(recent) < 200:
                return
            max_id = recent[-1].tweet_id - 1

    async def _announce(
        self, topic: str, tweet: Tweet, *, undo: Callable[[], Awaitable[Any]] | None
    ) -> None:
        await self._publish(topic, tweet.user_id, tweet_event(tweet), undo=undo)

    async def _publish(
        self,
        topic: str,
        key: int,
        event: dict[str, Any],
        *,
        undo: Callable[[], Awaitable[Any]] | None,
    ) -> None:
        try:
            await self._log.publish(topic, key, event)
        except LogUnavailable:
            if undo is not None:
                await undo()
            raise Unavailable("the write could not be recorded; try again") from None


def tweet_event(tweet: Tweet) -> dict[str, Any]:
    """What consumers learn of a tweet: enough to index, fan out and trend it without
    reading it back."""
    return {
        "tweet_id": tweet.tweet_id,
        "user_id": tweet.user_id,
        "content": tweet.content,
        "hashtags": list(tweet.hashtags),
        "mentions": list(tweet.mentions),
        "reply_to": tweet.reply_to,
        "retweet_of": tweet.retweet_of,
        "created_at": int(tweet.created_at.timestamp() * 1000),
        "edited_at": int(tweet.edited_at.timestamp() * 1000) if tweet.edited_at else None,
        "version": version_of(tweet),  # orders what consumers apply per tweet
    }


def _checked(rule: Callable[[Any], Any], value: Any) -> Any:
    try:
        return rule(value)
    except text.TextError as exc:
        raise RuleBroken(str(exc)) from None
