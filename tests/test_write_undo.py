"""A write whose event the log will not take is undone and answered 503: nothing that
exists was left unannounced."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from chirp.server import Chirp
from chirp.services.errors import Unavailable
from storage.protocols import LogUnavailable

from .api.conftest import running

#: The topics the log refuses, for the test under way.
REFUSING: set[str] = set()


@pytest.fixture
async def chirp(nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch) -> Chirp:
    chirp = await running(nursery)
    real_publish = chirp.log.publish

    async def publish(topic: str, key: Any, event: Any) -> tuple[int, int]:
        if topic in REFUSING:
            raise LogUnavailable(f"{topic} is down")
        return await real_publish(topic, key, event)

    monkeypatch.setattr(chirp.log, "publish", publish)
    REFUSING.clear()
    return chirp


async def people(chirp: Chirp) -> tuple[int, int]:
    ids = []
    for name in ("alice", "bob"):
        view, _ = await chirp.services.users.register(
            username=name, email=f"{name}@example.org", password="long enough pw"
        )
        ids.append(view.user.user_id)
    return ids[0], ids[1]


async def test_a_refused_tweet_is_not_stored(chirp: Chirp) -> None:
    alice, _ = await people(chirp)
    REFUSING.add("tweet_created")
    with pytest.raises(Unavailable):
        await chirp.services.tweets.post(alice, "hello")
    timeline, _ = await chirp.services.tweets.timeline(
        alice, viewer=None, limit=10, max_id=None, since_id=None
    )
    assert timeline == []


async def test_refused_likes_retweets_and_follows_are_undone(chirp: Chirp) -> None:
    alice, bob = await people(chirp)
    tweet = (await chirp.services.tweets.post(alice, "hello")).tweet
    REFUSING.update({"like_added", "retweet_created", "user_followed"})
    with pytest.raises(Unavailable):
        await chirp.services.tweets.like(bob, tweet.tweet_id)
    with pytest.raises(Unavailable):
        await chirp.services.tweets.retweet(bob, tweet.tweet_id)
    with pytest.raises(Unavailable):
        await chirp.services.users.follow(bob, alice)
    view = await chirp.services.tweets.view(tweet.tweet_id, viewer=bob)
    assert (view.like_count, view.retweet_count, view.liked, view.retweeted) == (0, 0, False, False)
    bob_timeline, _ = await chirp.services.tweets.timeline(
        bob, viewer=None, limit=10, max_id=None, since_id=None
    )
    assert bob_timeline == []
    assert (await chirp.services.users.view(alice)).follower_count == 0


async def test_a_refused_delete_or_edit_changes_nothing(chirp: Chirp) -> None:
    alice, _ = await people(chirp)
    tweet = (await chirp.services.tweets.post(alice, "keep me")).tweet
    REFUSING.update({"tweet_deleted", "tweet_edited"})
    with pytest.raises(Unavailable):
        await chirp.services.tweets.delete(alice, tweet.tweet_id)
    with pytest.raises(Unavailable):
        await chirp.services.tweets.edit(alice, tweet.tweet_id, "changed")
    assert (
        await chirp.services.tweets.view(tweet.tweet_id, viewer=None)
    ).tweet.content == "keep me"


async def test_the_api_answers_503_with_retry_after(chirp: Chirp) -> None:
    _, _ = await people(chirp)
    token = (await chirp.services.users.login("alice", "long enough pw")).access_token
    REFUSING.add("tweet_created")
    response = await chirp.app.test_client().post(
        "/api/v1/tweet", headers={"Authorization": f"Bearer {token}"}, json={"content": "x"}
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert response.content_type == "application/problem+json"


async def test_a_delete_cut_short_by_the_log_leaves_no_orphan_and_can_be_retried(
    chirp: Chirp, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = await people(chirp)
    tweet = (await chirp.services.tweets.post(alice, "going soon")).tweet
    retweet = await chirp.services.tweets.retweet(bob, tweet.tweet_id)
    publish = chirp.log.publish
    deletions = 0

    async def second_deletion_fails(topic: str, key: Any, event: Any) -> tuple[int, int]:
        nonlocal deletions
        if topic == "tweet_deleted":
            deletions += 1
            if deletions == 2:
                raise LogUnavailable("down")
        return await publish(topic, key, event)

    monkeypatch.setattr(chirp.log, "publish", second_deletion_fails)
    with pytest.raises(Unavailable):
        await chirp.services.tweets.delete(alice, tweet.tweet_id)
    # The retweet went first and whole; the original is still there, intact.
    assert (await chirp.services.users.view(bob)).tweet_count == 0
    assert (await chirp.services.tweets.view(tweet.tweet_id, viewer=None)).retweet_count == 0
    with pytest.raises(Exception, match="no tweet"):
        await chirp.services.tweets.view(retweet.tweet.tweet_id, viewer=None)
    await chirp.services.tweets.delete(alice, tweet.tweet_id)  # the retry finishes
    assert (await chirp.services.users.view(alice)).tweet_count == 0
