"""Edges of the write path found in review: each a regression test."""

from __future__ import annotations

import jwt
import pytest
import trio
import trio.testing

from chirp.server import Chirp

from .conftest import sign_up


async def test_a_password_with_a_lone_surrogate_is_refused_not_a_500(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    body = b'{"username": "sam", "email": "sam@example.org", "password": "abc\\ud800defghi"}'
    response = await client.post(
        "/api/v1/users", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    login = await client.post(
        "/api/v1/auth/token",
        data=b'{"username": "x", "password": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert login.status_code == 401


@pytest.mark.parametrize(
    "changes",
    [
        {"display_name": "evil\u0000name"},
        {"bio": "bell\u0007"},
        {"display_name": "\ud800"},
        {"profile_image_url": "https://img.example:99999999/a.png"},
    ],
)
async def test_profile_text_follows_the_text_rules(chirp: Chirp, changes: dict) -> None:
    _, me = await sign_up(chirp, "pat")
    response = await chirp.app.test_client().patch("/api/v1/users/me", headers=me, json=changes)
    assert response.status_code == 422


async def test_a_token_from_another_store_is_refused(chirp: Chirp) -> None:
    _, me = await sign_up(chirp, "quinn")
    token = me["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(token, options={"verify_signature": False})
    policy = chirp.services.users._tokens._policy
    forged = jwt.encode({**claims, "ctx": "memory:an-earlier-process"}, policy.secret)
    response = await chirp.app.test_client().get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


async def test_a_stale_token_does_not_block_signing_in(chirp: Chirp) -> None:
    await sign_up(chirp, "rita")
    response = await chirp.app.test_client().post(
        "/api/v1/auth/token",
        headers={"Authorization": "Bearer expired.or.forged"},
        json={"username": "rita", "password": "correct horse battery"},
    )
    assert response.status_code == 200


async def test_liking_a_retweet_likes_the_original(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    client = chirp.app.test_client()
    tweet = (
        await (
            await client.post("/api/v1/tweet", headers=alice, json={"content": "original"})
        ).get_json()
    )["tweet"]
    retweet = await (
        await client.post(f"/api/v1/tweet/{tweet['tweet_id']}/retweet", headers=bob)
    ).get_json()
    liked = await (
        await client.post(f"/api/v1/tweet/{retweet['tweet_id']}/like", headers=alice)
    ).get_json()
    assert (liked["tweet_id"], liked["like_count"]) == (tweet["tweet_id"], 1)


async def test_the_repeat_check_sees_past_any_number_of_retweets(chirp: Chirp) -> None:
    users, tweets = chirp.services.users, chirp.services.tweets
    me = (await users.register(username="spam", email="s@x.org", password="long enough"))[0]
    other = (await users.register(username="src", email="o@x.org", password="long enough"))[0]
    await tweets.post(me.user.user_id, "buy now")
    for n in range(210):
        original = await tweets.post(other.user.user_id, f"post {n}")
        await tweets.retweet(me.user.user_id, original.tweet.tweet_id)
    with pytest.raises(Exception, match="spam"):
        await tweets.post(me.user.user_id, "buy now")


async def test_concurrent_deletes_and_edits_of_one_tweet_serialise(chirp: Chirp) -> None:
    users, tweets = chirp.services.users, chirp.services.tweets
    me = (await users.register(username="ed", email="e@x.org", password="long enough"))[0]
    tweet = (await tweets.post(me.user.user_id, "v0")).tweet
    outcomes: list[str] = []

    async def attempt(action, *args) -> None:  # type: ignore[no-untyped-def]
        try:
            await action(me.user.user_id, tweet.tweet_id, *args)
            outcomes.append(action.__name__)
        except Exception as exc:  # noqa: BLE001 - the kind is what the test checks
            outcomes.append(type(exc).__name__)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(attempt, tweets.edit, "v1")
        nursery.start_soon(attempt, tweets.edit, "v2")
        nursery.start_soon(attempt, tweets.delete)
        nursery.start_soon(attempt, tweets.delete)
    assert sorted(outcomes).count("delete") == 1
    assert set(outcomes) <= {"edit", "delete", "NotFound"}
    deleted = [
        e
        for e in (
            await chirp.log.fetch("tweet_deleted", dict.fromkeys(range(2), 0), timeout=0)
        ).records
    ]
    assert len(deleted) == 1, "announced once"
