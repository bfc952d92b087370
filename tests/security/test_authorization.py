"""Acting on what is someone else's: their tweets, their feed, their inbox, and the admin
endpoints. Each is refused with a problem, and what belongs to the other is untouched."""

from __future__ import annotations

import pytest

from chirp.server import Chirp
from tests.api.conftest import sign_up
from tests.api.test_tweets import get, post
from tests.api.waiting import settled

from .helpers import assert_problem, nothing_written


async def test_deleting_anothers_tweet_is_403_and_it_stays(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    tweet = await post(chirp, alice, "mine to keep")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    async with nothing_written(chirp):
        await assert_problem(await chirp.app.test_client().delete(path, headers=bob), 403)
    assert (await get(chirp, path))["content"] == "mine to keep"


async def test_editing_anothers_tweet_is_403_and_leaves_no_history(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    tweet = await post(chirp, alice, "what I said")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    async with nothing_written(chirp):
        response = await chirp.app.test_client().patch(
            path, headers=bob, json={"content": "what bob says I said"}
        )
        await assert_problem(response, 403)
    history = await get(chirp, f"{path}/history")
    assert (history["content"], history["edited_at"], history["versions"]) == (
        "what I said",
        None,
        [],
    )


async def test_deleting_anothers_retweet_is_403_and_it_stays(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    original = await post(chirp, bob, "worth sharing")
    client = chirp.app.test_client()
    shared = await client.post(f"/api/v1/tweet/{original['tweet_id']}/retweet", headers=alice)
    retweet_id = (await shared.get_json())["tweet_id"]
    async with nothing_written(chirp):
        response = await client.delete(f"/api/v1/tweet/{retweet_id}", headers=bob)
        await assert_problem(response, 403)
    assert (await get(chirp, f"/api/v1/tweet/{original['tweet_id']}"))["retweet_count"] == 1
    timeline = await get(chirp, f"/api/v1/users/{alice_id}/tweets")
    assert [t["tweet_id"] for t in timeline["tweets"]] == [retweet_id]


@pytest.mark.parametrize(
    "changes",
    [
        {"content": "ok", "user_id": 1},
        {"content": "ok", "like_count": 1_000_000},
        {"content": "ok", "created_at": "2001-01-01T00:00:00Z"},
        {"content": "ok", "edited_at": None},
    ],
)
async def test_editing_fields_other_than_the_text_is_422_and_changes_nothing(
    chirp: Chirp, changes: dict
) -> None:
    _, alice = await sign_up(chirp, "alice")
    tweet = await post(chirp, alice, "as first written")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    async with nothing_written(chirp):
        response = await chirp.app.test_client().patch(path, headers=alice, json=changes)
        await assert_problem(response, 422)
    assert await get(chirp, path, alice) == {**tweet, "liked": False}


@pytest.mark.parametrize(
    "changes",
    [
        {"email": "attacker@example.org"},  # then a password reset would go there
        {"password": "a new password"},
        {"password_hash": "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"},
        {"follower_count": 1_000_000},
        {"created_at": "2001-01-01T00:00:00Z"},
    ],
)
async def test_my_profile_takes_no_account_fields(chirp: Chirp, changes: dict) -> None:
    _, alice = await sign_up(chirp, "alice")
    before = await get(chirp, "/api/v1/users/me", alice)
    async with nothing_written(chirp):
        response = await chirp.app.test_client().patch(
            "/api/v1/users/me", headers=alice, json=changes
        )
        await assert_problem(response, 422)
    assert await get(chirp, "/api/v1/users/me", alice) == before
    login = await chirp.app.test_client().post(
        "/api/v1/auth/token", json={"username": "alice", "password": "correct horse battery"}
    )
    assert login.status_code == 200


@pytest.mark.parametrize("spelling", ["{id}", "0{id}", "+{id}", "{id}.0", " {id}"])
async def test_asking_for_anothers_feed_is_403_however_the_id_is_spelled(
    chirp: Chirp, spelling: str
) -> None:
    _, alice = await sign_up(chirp, "alice")
    bob_id, _ = await sign_up(chirp, "bob")
    response = await chirp.app.test_client().get(
        "/api/v1/feed", headers=alice, query_string={"userId": spelling.format(id=bob_id)}
    )
    await assert_problem(response, 403)


async def test_asking_for_anothers_notifications_is_403_and_theirs_stay_unread(
    chirp: Chirp,
) -> None:
    _, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    await post(chirp, alice, "hello @bob")
    await settled(chirp, "notify")
    before = await get(chirp, "/api/v1/notifications", bob)
    assert before["unread_count"] == 1
    client = chirp.app.test_client()
    for path in ("/api/v1/notifications", "/api/v1/stream"):
        response = await client.get(path, headers=alice, query_string={"userId": bob_id})
        await assert_problem(response, 403)
    assert await get(chirp, "/api/v1/notifications", bob) == before


async def test_marking_read_past_anothers_notifications_leaves_theirs_unread(
    chirp: Chirp,
) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    await post(chirp, alice, "hello @bob")
    await settled(chirp, "notify")
    before = await get(chirp, "/api/v1/notifications", bob)
    newest = before["notifications"][0]["notification_id"]
    response = await chirp.app.test_client().post(
        "/api/v1/notifications/read", headers=alice, json={"up_to_id": newest}
    )
    assert (response.status_code, await response.get_json()) == (200, {"unread_count": 0})
    assert await get(chirp, "/api/v1/notifications", bob) == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/metrics"),
        ("get", "/admin/actors"),
        ("get", "/admin/dashboard"),
        ("post", "/admin/actors/fanout.tweet_created.0/kill"),
    ],
)
async def test_admin_endpoints_refuse_a_users_token(chirp: Chirp, method: str, path: str) -> None:
    _, alice = await sign_up(chirp, "alice")
    response = await getattr(chirp.app.test_client(), method)(path, headers=alice)
    await assert_problem(response, 403)
    assert chirp.system.restarts("fanout.tweet_created.0") == 0
