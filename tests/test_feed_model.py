"""Home feeds against a reference model.

Hypothesis drives random sequences of writes, kills, cache expiry and clock moves through
the real services and actors (one chirp per example, on a trio loop in a helper thread
with a clock only the test moves). Each read, once the fan-out has settled, must equal the
model's feed:

    feed(u) = the newest FEED_LENGTH live tweets (retweets included, each its own entry)
              whose author is u or someone u follows now, newest first.

A tweet is live until it is deleted; deleting a tweet deletes its retweets. Likes show as
each tweet's like count. The model ignores tiers, caches and activity: whichever path a
tweet took (pushed, skipped while its reader was away, merged from a celebrity's list), a
read must not show the difference. Thresholds are tiny so all three tiers, and authors
crossing between them, occur among a handful of users. Tweets per author stay under the
200 a new follow merges (the seed's figure), which the model would otherwise have to know.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import trio
import trio.testing
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from chirp.server import Chirp
from chirp.services.errors import RuleBroken
from chirp.services.fanout import FANOUT_TOPICS
from chirp.services.feeds import FEED_LENGTH
from tests.api.conftest import running
from tests.chaos import leaf_actors

T = TypeVar("T")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_USERS = 5
DAY = 86_400.0


@dataclass
class Model:
    follows: dict[int, set[int]] = field(default_factory=dict)  # user -> followees
    tweets: dict[int, tuple[int, int | None]] = field(default_factory=dict)  # id -> author, of
    retweets: dict[tuple[int, int], int] = field(default_factory=dict)  # (user, original) -> id
    likes: dict[int, set[int]] = field(default_factory=dict)  # original -> likers
    texts: dict[int, str] = field(default_factory=dict)  # original -> its text now

    def feed(self, user: int) -> list[int]:
        authors = {user} | self.follows[user]
        live = (t for t, (author, _) in self.tweets.items() if author in authors)
        return sorted(live, reverse=True)[:FEED_LENGTH]

    def original(self, tweet_id: int) -> int:
        of = self.tweets[tweet_id][1]
        return tweet_id if of is None else of

    def delete(self, tweet_id: int) -> None:
        author, of = self.tweets.pop(tweet_id)
        if of is None:
            self.likes.pop(tweet_id, None)
            del self.texts[tweet_id]
            for (_, original), retweet in list(self.retweets.items()):
                if original == tweet_id:
                    self.delete(retweet)
        else:
            del self.retweets[(author, of)]


class TrioThread:
    """A trio loop on a thread of its own, running chirp; the state machine's rules, which
    are synchronous, call into it. Time is a MockClock that moves only when told."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = trio.testing.MockClock()
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._main, args=(overrides,), daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def _main(self, overrides: dict[str, Any]) -> None:
        async def main() -> None:
            async with trio.open_nursery() as nursery:
                self._cancel = nursery.cancel_scope
                self._token = trio.lowlevel.current_trio_token()
                self.chirp = await running(
                    nursery,
                    now=lambda: EPOCH + timedelta(seconds=trio.current_time()),
                    **overrides,
                )
                self._ready.set()

        try:
            trio.run(main, clock=self.clock)
        except BaseException as exc:  # surfaced to the test thread
            self._failure = exc
            self._ready.set()

    def run(self, function: Callable[..., Awaitable[T]], *args: Any) -> T:
        return trio.from_thread.run(function, *args, trio_token=self._token)

    def close(self) -> None:
        trio.from_thread.run_sync(self._cancel.cancel, trio_token=self._token)
        self._thread.join()


class Feeds(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = TrioThread(
            fanout_push_all_below=2,  # 0–1 followers: push to all
            fanout_pull_above=2,  # 2: push to the active; 3 and more: pull
            cache_nodes=2,
            max_restarts=10_000,
        )
        self.chirp: Chirp = self.loop.chirp
        self.model = Model()
        self.users: list[int] = []
        self.texts = itertools.count()
        self.victims = sorted(leaf_actors(self.chirp.system.tree()))

    def teardown(self) -> None:
        self.loop.close()

    # Users and follows

    @precondition(lambda self: len(self.users) < MAX_USERS)
    @rule()
    def create_user(self) -> None:
        n = len(self.users)
        view, _ = self.loop.run(
            lambda: self.chirp.services.users.register(
                username=f"user{n}", email=f"user{n}@example.org", password="long enough pw"
            )
        )
        user = view.user.user_id
        self.users.append(user)
        self.model.follows[user] = set()

    @precondition(lambda self: len(self.users) >= 2)
    @rule(a=st.integers(0, MAX_USERS - 1), b=st.integers(0, MAX_USERS - 1))
    def follow(self, a: int, b: int) -> None:
        follower, followee = self.user(a), self.user(b)
        if follower != followee:
            self.loop.run(self.chirp.services.users.follow, follower, followee)
            self.model.follows[follower].add(followee)

    @precondition(lambda self: len(self.users) >= 2)
    @rule(a=st.integers(0, MAX_USERS - 1), b=st.integers(0, MAX_USERS - 1))
    def unfollow(self, a: int, b: int) -> None:
        follower, followee = self.user(a), self.user(b)
        self.loop.run(self.chirp.services.users.unfollow, follower, followee)
        self.model.follows[follower].discard(followee)

    @precondition(lambda self: self.users)
    @rule(a=st.integers(0, MAX_USERS - 1))
    def be_active(self, a: int) -> None:
        """Any signed-in request (the gateway records it after the request)."""
        self.loop.run(self.chirp.services.users.seen, self.user(a))

    # Tweets

    @precondition(lambda self: self.users)
    @rule(a=st.integers(0, MAX_USERS - 1))
    def tweet(self, a: int) -> None:
        author, text = self.user(a), f"tweet {next(self.texts)}"
        view = self.loop.run(self.chirp.services.tweets.post, author, text)
        self.model.tweets[view.tweet.tweet_id] = (author, None)
        self.model.texts[view.tweet.tweet_id] = text

    @precondition(lambda self: self.model.texts)
    @rule(pick=st.integers(0))
    def edit(self, pick: int) -> None:
        """Within 30 minutes of posting; after that the service refuses and nothing changes."""
        originals = sorted(self.model.texts)
        tweet_id = originals[pick % len(originals)]
        text = f"edited {next(self.texts)}"
        try:
            self.loop.run(
                self.chirp.services.tweets.edit, self.model.tweets[tweet_id][0], tweet_id, text
            )
        except RuleBroken:
            return
        self.model.texts[tweet_id] = text

    @precondition(lambda self: self.users and self.model.tweets)
    @rule(a=st.integers(0, MAX_USERS - 1), pick=st.integers(0))
    def retweet(self, a: int, pick: int) -> None:
        user, tweet_id = self.user(a), self.tweet_id(pick)
        view = self.loop.run(self.chirp.services.tweets.retweet, user, tweet_id)
        original = self.model.original(tweet_id)
        if (user, original) not in self.model.retweets:
            self.model.tweets[view.tweet.tweet_id] = (user, original)
            self.model.retweets[(user, original)] = view.tweet.tweet_id
        assert self.model.retweets[(user, original)] == view.tweet.tweet_id

    @precondition(lambda self: self.model.tweets)
    @rule(pick=st.integers(0))
    def delete(self, pick: int) -> None:
        tweet_id = self.tweet_id(pick)
        author = self.model.tweets[tweet_id][0]
        self.loop.run(self.chirp.services.tweets.delete, author, tweet_id)
        self.model.delete(tweet_id)

    @precondition(lambda self: self.users and self.model.tweets)
    @rule(a=st.integers(0, MAX_USERS - 1), pick=st.integers(0))
    def like(self, a: int, pick: int) -> None:
        user, tweet_id = self.user(a), self.tweet_id(pick)
        self.loop.run(self.chirp.services.tweets.like, user, tweet_id)
        self.model.likes.setdefault(self.model.original(tweet_id), set()).add(user)

    # Chaos and time

    @rule(pick=st.integers(0), ticks=st.integers(0, 20), a=st.integers(0, MAX_USERS - 1))
    def kill_an_actor_mid_flight(self, pick: int, ticks: int, a: int) -> None:
        """A tweet is acknowledged, then, a few scheduler ticks into its fan-out, any actor
        (a log partition, a cache node, a fan-out shard…) is killed."""
        victim = self.victims[pick % len(self.victims)]

        async def tweet_then_kill() -> int | None:
            tweet_id = None
            if self.users:
                author = self.user(a)
                text = f"tweet {next(self.texts)}"
                view = await self.chirp.services.tweets.post(author, text)
                tweet_id = view.tweet.tweet_id
                self.model.tweets[tweet_id] = (author, None)
                self.model.texts[tweet_id] = text
            for _ in range(ticks):
                await trio.lowlevel.checkpoint()
            self.chirp.system.kill(victim)
            return tweet_id

        self.loop.run(tweet_then_kill)

    @rule()
    def expire_caches(self) -> None:
        """Past every cache TTL: feeds, hydrated tweets and celebrity lists all lapse."""
        self.advance(601.0)

    @rule(seconds=st.sampled_from([1.0, 60.0, DAY, 6.5 * DAY, 8 * DAY]))
    def advance_the_clock(self, seconds: float) -> None:
        self.advance(seconds)

    # Reads

    @precondition(lambda self: self.users)
    @rule(a=st.integers(0, MAX_USERS - 1), page_size=st.sampled_from([1, 4, 25]))
    def read_a_feed(self, a: int, page_size: int) -> None:
        self.check_feed(self.user(a), page_size)

    @invariant()
    def consumers_keep_up(self) -> None:
        self.settle()

    @rule()
    def read_every_feed(self) -> None:
        for user in self.users:
            self.check_feed(user)

    # Helpers

    def check_feed(self, user: int, page_size: int = 4) -> None:
        """The whole feed, page by page (small pages: the read path's windows and cursors
        are crossed many times)."""
        self.settle()
        views, cursor, regenerated = [], None, []
        while True:
            page = self.loop.run(
                partial(self.chirp.services.feeds.read, user, limit=page_size, max_id=cursor)
            )
            views.extend(page.tweets)
            regenerated.append(page.regenerated)
            if page.next_cursor is None:
                break
            assert len(page.tweets) == page_size, "a page with more after it is full"
            cursor = page.next_cursor
        shown = [view.tweet.tweet_id for view in views]
        assert shown == self.model.feed(user), f"feed of {user} (regenerated: {regenerated})"
        for view in views:
            original = self.model.original(view.tweet.tweet_id)
            likes = len(self.model.likes.get(original, ()))
            assert (view.retweet_of or view).like_count == likes
            assert (view.retweet_of or view).tweet.content == self.model.texts[original]

    def settle(self) -> None:
        """Until every fan-out consumer has applied every event and the tree is whole;
        timers (ask deadlines after a kill) get a nudge of 100 ms at a time."""

        async def settled() -> bool:
            await trio.testing.wait_all_tasks_blocked()
            for topic in FANOUT_TOPICS:
                if sum(await self.chirp.log.lag("fanout", topic)):
                    return False
            return not self.chirp.system.unavailable()

        for _ in range(100):
            if self.loop.run(settled):
                return
            self.loop.clock.jump(0.1)
        raise AssertionError(f"the fan-out did not settle: {self.chirp.system.unavailable()}")

    def advance(self, seconds: float) -> None:
        self.settle()
        self.loop.clock.jump(seconds)
        self.settle()

    def user(self, index: int) -> int:
        return self.users[index % len(self.users)]

    def tweet_id(self, pick: int) -> int:
        ids = sorted(self.model.tweets)
        return ids[pick % len(ids)]


TestFeedsMatchTheModel = Feeds.TestCase
TestFeedsMatchTheModel.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None, derandomize=True
)
