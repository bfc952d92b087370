"""A write cancelled midway (its client hung up, the HTTP actor was killed, the shutdown
grace ran out) still ends whole: what it stored is announced, what it announced is
applied. Here the cancellation lands while the write waits for the log to take its event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing

from chirp.server import Chirp

from .api.conftest import running
from .test_write_chaos import all_events


class GatedLog:
    """Holds every publish until ``gate`` is set: the moment a write waits on the log."""

    def __init__(self, chirp: Chirp, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = trio.Event()
        real_publish = chirp.log.publish

        async def publish(topic: str, key: Any, event: Any) -> tuple[int, int]:
            await self.gate.wait()
            return await real_publish(topic, key, event)

        monkeypatch.setattr(chirp.log, "publish", publish)


async def cancelled_midway(gated: GatedLog, write: Awaitable[Any]) -> None:
    """Start ``write``, cancel it while it waits on the log, then let the log go on."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: write)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
        gated.gate.set()
    await trio.testing.wait_all_tasks_blocked()


@pytest.fixture
async def chirp(nursery: trio.Nursery) -> Chirp:
    return await running(nursery)


async def person(chirp: Chirp, name: str) -> int:
    view, _ = await chirp.services.users.register(
        username=name, email=f"{name}@example.org", password="long enough pw"
    )
    return view.user.user_id


Check = Callable[[Chirp, int, int, int], Awaitable[None]]


async def posted(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    created = [e for e in await all_events(chirp, "tweet_created") if e["user_id"] == bob]
    timeline, _ = await chirp.services.tweets.timeline(
        bob, viewer=None, limit=10, max_id=None, since_id=None
    )
    assert [e["tweet_id"] for e in created] == [v.tweet.tweet_id for v in timeline] != []


async def edited(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    [event] = await all_events(chirp, "tweet_edited")
    view = await chirp.services.tweets.view(tweet_id, viewer=None)
    assert view.tweet.content == event["content"] == "edited"


async def deleted(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    assert [e["tweet_id"] for e in await all_events(chirp, "tweet_deleted")] == [tweet_id]
    assert await chirp.services.tweets.views([tweet_id], viewer=None) == []


async def liked(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    assert len(await all_events(chirp, "like_added")) == 1
    assert (await chirp.services.tweets.view(tweet_id, viewer=bob)).liked


async def retweeted(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    [event] = await all_events(chirp, "retweet_created")
    view = await chirp.services.tweets.view(tweet_id, viewer=bob)
    assert view.retweeted and view.retweet_count == 1 and event["user_id"] == bob


async def followed(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    assert len(await all_events(chirp, "user_followed")) == 1
    assert (await chirp.services.users.view(alice)).follower_count == 1


async def unliked(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    assert len(await all_events(chirp, "like_removed")) == 1
    view = await chirp.services.tweets.view(tweet_id, viewer=bob)
    assert not view.liked and view.like_count == 0


async def unretweeted(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    [event] = await all_events(chirp, "tweet_deleted")
    assert event["retweet_of"] == tweet_id
    view = await chirp.services.tweets.view(tweet_id, viewer=bob)
    assert not view.retweeted and view.retweet_count == 0


async def unfollowed(chirp: Chirp, alice: int, bob: int, tweet_id: int) -> None:
    assert len(await all_events(chirp, "user_unfollowed")) == 1
    assert (await chirp.services.users.view(alice)).follower_count == 0


Write = Callable[[Chirp, int, int, int], Awaitable[Any]]

WRITES: dict[str, tuple[Write, Check]] = {
    "post": (lambda c, a, b, t: c.services.tweets.post(b, "hello"), posted),
    "edit": (lambda c, a, b, t: c.services.tweets.edit(a, t, "edited"), edited),
    "delete": (lambda c, a, b, t: c.services.tweets.delete(a, t), deleted),
    "like": (lambda c, a, b, t: c.services.tweets.like(b, t), liked),
    "retweet": (lambda c, a, b, t: c.services.tweets.retweet(b, t), retweeted),
    "follow": (lambda c, a, b, t: c.services.users.follow(b, a), followed),
    "unlike": (lambda c, a, b, t: c.services.tweets.unlike(b, t), unliked),
    "unretweet": (lambda c, a, b, t: c.services.tweets.unretweet(b, t), unretweeted),
    "unfollow": (lambda c, a, b, t: c.services.users.unfollow(b, a), unfollowed),
}
#: What an undoing write needs done, whole, before it.
DONE_BEFORE = {"unlike": "like", "unretweet": "retweet", "unfollow": "follow"}


@pytest.mark.embedded_only  # waits for the gated publish with wait_all_tasks_blocked
@pytest.mark.parametrize("kind", WRITES)
async def test_a_write_cancelled_while_the_log_takes_its_event_still_ends_whole(
    chirp: Chirp, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    alice, bob = await person(chirp, "alice"), await person(chirp, "bob")
    tweet_id = (await chirp.services.tweets.post(alice, "original")).tweet.tweet_id
    if kind in DONE_BEFORE:
        await WRITES[DONE_BEFORE[kind]][0](chirp, alice, bob, tweet_id)
    write, check = WRITES[kind]
    gated = GatedLog(chirp, monkeypatch)
    await cancelled_midway(gated, write(chirp, alice, bob, tweet_id))
    await check(chirp, alice, bob, tweet_id)
