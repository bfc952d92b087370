"""The demo's background life: an actor that has the crowd tweet, like, retweet, reply and
follow, a few times a second, with hot hashtags that take turns so trending moves."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from actors import Actor, ActorSpec, AskFailed
from chirp.services.errors import ServiceError
from chirp.services.tweets import TweetService
from chirp.services.users import UserService
from storage.protocols import StoreError

from .chatter import hot_tags, reply_text, tweet_text
from .crowd import Crowd

TRICKLE = "demo.trickle"
#: Seconds each set of hot tags lasts, on trio's clock: one tag leaves and one arrives
#: per turn (`chatter.hot_tags`).
HOT_TURN = 60.0
#: What the crowd does, and how often each (relative weights).
KINDS = ("tweets", "likes", "retweets", "replies", "follows")
WEIGHTS = (35, 35, 10, 12, 8)
MENTION_SHARE = 0.05  # tweets that mention the author of a tweet they saw


def hot_turn() -> int:
    """Which set of hot tags is current."""
    return math.floor(trio.current_time() / HOT_TURN)


class Trickle(Actor):
    """One action every ``1 / rate`` seconds (trio's clock), by a member of ``crowd``
    drawn by activity, through the services as a user's request would go. An `EXPECTED`
    refusal is counted in ``crowd.skipped`` and the trickle goes on; anything else is a
    crash for the supervisor. Everything it remembers lives in ``crowd``, so a restart
    carries on where the killed incarnation left off."""

    def __init__(
        self, crowd: Crowd, *, tweets: TweetService, users: UserService, rate: float
    ) -> None:
        if rate <= 0:
            raise ValueError("the trickle's rate is a positive number of actions a second")
        self._crowd = crowd
        self._tweets = tweets
        self._users = users
        self._interval = 1.0 / rate
        self._actions: dict[str, Callable[[], Awaitable[object]]] = {
            "tweets": self._tweet,
            "likes": self._like,
            "retweets": self._retweet,
            "replies": self._reply,
            "follows": self._follow,
        }

    def describe(self) -> dict[str, Any]:
        crowd = self._crowd
        return {
            "per_second": 1.0 / self._interval,
            "hot_tags": list(hot_tags(hot_turn())),
            "done": dict(crowd.done),
            "skipped": dict(crowd.skipped),
        }

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            await self.act()

    async def act(self) -> str:
        """One action, drawn by `WEIGHTS`; answers its kind."""
        crowd = self._crowd
        kind = crowd.rng.choices(KINDS, weights=WEIGHTS)[0]
        try:
            await self._actions[kind]()
        except EXPECTED:
            crowd.skipped[kind] += 1
        else:
            crowd.done[kind] += 1
        return kind

    async def _tweet(self) -> None:
        crowd = self._crowd
        (author,) = crowd.actors(1)
        seen = crowd.targets(1) if crowd.rng.random() < MENTION_SHARE else []
        mention = crowd.people[seen[0][1]].username if seen else None
        text = tweet_text(
            crowd.rng, crowd.people[author].topics, hot_tags(hot_turn()), mention=mention
        )
        view = await self._tweets.post(crowd.user_ids[author], text)
        crowd.recent.append((view.tweet.tweet_id, author))

    async def _like(self) -> None:
        actor, tweet = self._engagement()
        await self._tweets.like(self._crowd.user_ids[actor], tweet)

    async def _retweet(self) -> None:
        actor, tweet = self._engagement()
        await self._tweets.retweet(self._crowd.user_ids[actor], tweet)

    async def _reply(self) -> None:
        crowd = self._crowd
        actor, tweet = self._engagement()
        view = await self._tweets.post(crowd.user_ids[actor], reply_text(crowd.rng), reply_to=tweet)
        crowd.recent.append((view.tweet.tweet_id, actor))

    async def _follow(self) -> None:
        """Someone follows the author of a tweet they came across (following again
        changes nothing; following oneself is refused and skipped)."""
        crowd = self._crowd
        (actor,) = crowd.actors(1)
        found = crowd.targets(1)
        if not found:
            raise Skip("nothing posted yet")
        await self._users.follow(crowd.user_ids[actor], crowd.user_ids[found[0][1]])

    def _engagement(self) -> tuple[int, int]:
        """(actor, tweet id): an active user and a recent tweet not their own."""
        crowd = self._crowd
        (actor,) = crowd.actors(1)
        found = crowd.targets(1)
        if not found:
            raise Skip("nothing posted yet")
        tweet, author = found[0]
        if author == actor:
            raise Skip("nobody engages with their own tweet")
        return actor, tweet


class Skip(Exception):
    """No action fits this draw (nothing posted yet, one's own tweet): skipped."""


#: Refusals the trickle counts and goes on from: the rules' (a repeated text, a tweet
#: deleted meanwhile, following oneself, the log not taking a write), an actor it needed
#: being restarted (someone pressed Kill on the dashboard), a draw that fits nothing.
EXPECTED = (ServiceError, AskFailed, StoreError, Skip)


def trickle_spec(
    crowd: Crowd, *, tweets: TweetService, users: UserService, rate: float
) -> ActorSpec:
    """The trickle as a permanent child: a kill restarts it over the same ``crowd``."""
    return ActorSpec(TRICKLE, lambda: Trickle(crowd, tweets=tweets, users=users, rate=rate))
