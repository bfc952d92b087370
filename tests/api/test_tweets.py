"""Tweets through the real app: post, read, edit, delete, likes, retweets, replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio

from chirp.server import Chirp
from chirp.services.tweet_cache import SETTLING

from .conftest import running, sign_up


async def post(chirp: Chirp, headers: dict[str, str], content: str, **fields: Any) -> dict:
    response = await chirp.app.test_client().post(
        "/api/v1/tweet", headers=headers, json={"content": content, **fields}
    )
    assert response.status_code == 201, await response.get_data()
    return (await response.get_json())["tweet"]


async def get(chirp: Chirp, path: str, headers: dict[str, str] | None = None) -> Any:
    response = await chirp.app.test_client().get(path, headers=headers or {})
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def test_a_posted_tweet_has_its_entities_author_and_counts(chirp: Chirp) -> None:
    await sign_up(chirp, "bob")
    user_id, alice = await sign_up(chirp, "alice")
    response = await chirp.app.test_client().post(
        "/api/v1/tweet",
        headers=alice,
        json={
            "content": "Hello @BOB and @nobody #Trio https://trio.dev",
            "media_urls": ["https://img.example/1.png"],
        },
    )
    assert response.status_code == 201
    body = await response.get_json()
    tweet = body["tweet"]
    assert body["tweet_id"] == tweet["tweet_id"] and isinstance(tweet["tweet_id"], str)
    assert body["created_at"] == tweet["created_at"]
    assert tweet["author"] == {
        "user_id": user_id,
        "username": "alice",
        "display_name": "alice",
        "verified": False,
        "profile_image_url": None,
    }
    assert (tweet["hashtags"], tweet["mentions"], tweet["urls"]) == (
        ["Trio"],
        ["bob"],
        ["https://trio.dev"],
    )
    assert (tweet["like_count"], tweet["retweet_count"], tweet["reply_count"]) == (0, 0, 0)
    assert (tweet["is_reply"], tweet["retweet_of"], tweet["edited_at"]) == (False, None, None)
    assert await get(chirp, f"/api/v1/tweet/{tweet['tweet_id']}") == {**tweet, "liked": False}
    me = await get(chirp, "/api/v1/users/me", alice)
    assert me["tweet_count"] == 1
    assert sum(await chirp.log.end_offsets("tweet_created")) == 1


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"content": ""}, "needs some text"),
        ({"content": "x" * 281}, "at most 280"),
        ({"content": "nul \u0000"}, "control"),
        ({"content": "ok", "media_urls": ["ftp://x.org/a"]}, "http"),
        ({"content": "ok", "media_urls": ["https://x.org/a"] * 5}, "at most 4"),
        ({"content": "ok", "reply_to_tweet_id": "123"}, "reply"),
        ({"content": "ok", "reply_to_tweet_id": "abc"}, "not a tweet id"),
        ({"content": "ok", "user_id": 2}, "user_id"),
        ({"content": "ok", "like_count": 100}, "like_count"),
        ({"content": 5}, "content"),
        ({"text": "ok"}, "content"),
        ({"content": " ".join(f"https://x{n}.org" for n in range(6))}, "spam"),
    ],
)
async def test_tweets_that_break_a_rule_are_422_and_not_stored(
    chirp: Chirp, fields: dict, reason: str
) -> None:
    user_id, alice = await sign_up(chirp, "alice")
    response = await chirp.app.test_client().post("/api/v1/tweet", headers=alice, json=fields)
    assert response.status_code == 422, await response.get_data()
    assert reason in (await response.get_json())["detail"]
    assert (await get(chirp, f"/api/v1/users/{user_id}/tweets"))["tweets"] == []
    assert sum(await chirp.log.end_offsets("tweet_created")) == 0


async def test_the_same_text_twice_within_the_hour_is_spam(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    await post(chirp, alice, "Same old")
    response = await chirp.app.test_client().post(
        "/api/v1/tweet", headers=alice, json={"content": "Same old"}
    )
    assert response.status_code == 422 and "spam" in (await response.get_json())["detail"]
    _, bob = await sign_up(chirp, "bob")
    await post(chirp, bob, "Same old")  # someone else may say it


async def test_posting_needs_a_token(chirp: Chirp) -> None:
    response = await chirp.app.test_client().post("/api/v1/tweet", json={"content": "hi"})
    assert response.status_code == 401


async def test_only_the_author_edits_within_30_minutes_and_history_is_kept(
    chirp: Chirp, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    tweet = await post(chirp, alice, "frist #typo")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    client = chirp.app.test_client()
    assert (await client.patch(path, headers=bob, json={"content": "hacked"})).status_code == 403
    assert (await get(chirp, path))["content"] == "frist #typo"
    edited = await client.patch(path, headers=alice, json={"content": "first #fixed"})
    assert edited.status_code == 200
    body = await edited.get_json()
    assert (body["content"], body["hashtags"], body["edited_at"] is not None) == (
        "first #fixed",
        ["fixed"],
        True,
    )
    history = await get(chirp, f"{path}/history")
    assert [v["content"] for v in history["versions"]] == ["frist #typo"]
    assert history["content"] == "first #fixed"
    later = chirp.services.tweets._now() + timedelta(minutes=31)
    monkeypatch.setattr(chirp.services.tweets, "_now", lambda: later)
    late = await client.patch(path, headers=alice, json={"content": "too late"})
    assert late.status_code == 422
    assert (await get(chirp, path))["content"] == "first #fixed"
    assert sum(await chirp.log.end_offsets("tweet_edited")) == 1


async def test_likes_are_idempotent_exact_and_personal(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    tweet = await post(chirp, alice, "like me")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    client = chirp.app.test_client()
    fans = [(await sign_up(chirp, f"fan{n}"))[1] for n in range(3)]
    for headers in fans:
        for _ in range(2):
            response = await client.post(f"{path}/like", headers=headers)
            assert response.status_code == 200
            assert (await response.get_json())["liked"] is True
    await client.delete(f"{path}/like", headers=fans[0])
    await client.delete(f"{path}/like", headers=fans[0])
    assert (await get(chirp, path))["like_count"] == 2
    assert (await get(chirp, path, fans[1]))["liked"] is True
    assert (await get(chirp, path, fans[0]))["liked"] is False
    assert sum(await chirp.log.end_offsets("like_added")) == 3
    assert sum(await chirp.log.end_offsets("like_removed")) == 1
    assert (await client.post("/api/v1/tweet/1234567/like", headers=alice)).status_code == 404


async def test_one_retweet_per_user_and_deleting_the_original_takes_its_retweets(
    chirp: Chirp,
) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    tweet = await post(chirp, alice, "retweet me")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    client = chirp.app.test_client()
    first = await client.post(f"{path}/retweet", headers=bob)
    again = await client.post(f"{path}/retweet", headers=bob)
    assert first.status_code == again.status_code == 201
    retweet = await first.get_json()
    assert (await again.get_json())["tweet_id"] == retweet["tweet_id"]
    assert retweet["retweet_of"]["tweet_id"] == tweet["tweet_id"]
    assert retweet["user_id"] == bob_id
    assert (await get(chirp, path, bob))["retweeted"] is True
    assert (await get(chirp, path))["retweet_count"] == 1
    # Retweeting the retweet retweets the original.
    _, carol = await sign_up(chirp, "carol")
    via = await client.post(f"/api/v1/tweet/{retweet['tweet_id']}/retweet", headers=carol)
    assert (await via.get_json())["retweet_of"]["tweet_id"] == tweet["tweet_id"]
    assert (await get(chirp, path))["retweet_count"] == 2
    assert (await client.delete(f"{path}/retweet", headers=carol)).status_code == 204
    assert (await get(chirp, path))["retweet_count"] == 1
    # The author deletes: the tweet and bob's retweet are gone from every read.
    assert (await client.delete(path, headers=bob)).status_code == 403
    assert (await client.delete(path, headers=alice)).status_code == 204
    assert (await client.get(path)).status_code == 404
    assert (await client.get(f"/api/v1/tweet/{retweet['tweet_id']}")).status_code == 404
    assert (await get(chirp, f"/api/v1/users/{bob_id}/tweets"))["tweets"] == []
    assert (await get(chirp, f"/api/v1/users/{alice_id}"))["tweet_count"] == 0
    assert sum(await chirp.log.end_offsets("retweet_created")) == 2
    assert sum(await chirp.log.end_offsets("tweet_deleted")) == 3  # carol's, alice's, bob's


async def test_replies_are_listed_counted_and_uncounted_when_deleted(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    parent = await post(chirp, alice, "a question")
    path = f"/api/v1/tweet/{parent['tweet_id']}"
    replies = []
    for n in range(3):
        # Read between replies: a count cached by one read must not outlive the next reply.
        assert (await get(chirp, path))["reply_count"] == n
        replies.append(await post(chirp, bob, f"answer {n}", reply_to_tweet_id=parent["tweet_id"]))
    assert all(r["is_reply"] and r["reply_to_tweet_id"] == parent["tweet_id"] for r in replies)
    assert (await get(chirp, path))["reply_count"] == 3
    listed = await get(chirp, f"{path}/replies?limit=2")
    assert [t["content"] for t in listed["tweets"]] == ["answer 2", "answer 1"]
    rest = await get(chirp, f"{path}/replies?limit=2&max_id={listed['next_cursor']}")
    assert ([t["content"] for t in rest["tweets"]], rest["next_cursor"]) == (["answer 0"], None)
    await chirp.app.test_client().delete(f"/api/v1/tweet/{replies[1]['tweet_id']}", headers=bob)
    assert (await get(chirp, path))["reply_count"] == 2


async def test_reply_counts_stay_exact_as_time_passes_between_reads(
    nursery: trio.Nursery,
) -> None:
    # Past the settling time every count read is cacheable (on DynamoDB it is cached):
    # only the marks a reply and its deletion leave keep it exact.
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    chirp = await running(nursery, now=lambda: clock[0])
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    parent = await post(chirp, alice, "a question")
    path = f"/api/v1/tweet/{parent['tweet_id']}"

    async def count_later() -> int:
        clock[0] += SETTLING + timedelta(seconds=1)
        return (await get(chirp, path))["reply_count"]

    assert await count_later() == 0
    reply = await post(chirp, bob, "an answer", reply_to_tweet_id=parent["tweet_id"])
    assert [await count_later(), await count_later()] == [1, 1]
    await chirp.app.test_client().delete(f"/api/v1/tweet/{reply['tweet_id']}", headers=bob)
    assert [await count_later(), await count_later()] == [0, 0]


async def test_the_user_timeline_pages_newest_first(chirp: Chirp) -> None:
    user_id, alice = await sign_up(chirp, "alice")
    posted = [await post(chirp, alice, f"tweet {n}") for n in range(5)]
    page = await get(chirp, f"/api/v1/users/{user_id}/tweets?limit=2")
    assert [t["content"] for t in page["tweets"]] == ["tweet 4", "tweet 3"]
    since = await get(chirp, f"/api/v1/users/{user_id}/tweets?since_id={posted[2]['tweet_id']}")
    assert [t["content"] for t in since["tweets"]] == ["tweet 4", "tweet 3"]
    assert (await chirp.app.test_client().get("/api/v1/users/999/tweets")).status_code == 404


@pytest.mark.parametrize("tweet_id", ["abc", "-1", "0", "1" * 25, "12.5"])
async def test_forged_tweet_ids_are_404(chirp: Chirp, tweet_id: str) -> None:
    response = await chirp.app.test_client().get(f"/api/v1/tweet/{tweet_id}")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


async def test_the_hashtag_timeline_follows_posts_edits_and_deletes(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    first = await post(chirp, alice, "one #Trio")
    second = await post(chirp, alice, "two #trio #python")
    await post(chirp, alice, "three #python")
    page = await get(chirp, "/api/v1/hashtag/TRIO?limit=1")
    assert [t["tweet_id"] for t in page["tweets"]] == [second["tweet_id"]]
    rest = await get(chirp, f"/api/v1/hashtag/trio?limit=1&max_id={page['next_cursor']}")
    assert [t["tweet_id"] for t in rest["tweets"]] == [first["tweet_id"]]
    client = chirp.app.test_client()
    await client.patch(
        f"/api/v1/tweet/{second['tweet_id']}",
        headers=alice,
        json={"content": "two, retagged #rust"},
    )
    assert len((await get(chirp, "/api/v1/hashtag/trio"))["tweets"]) == 1
    await client.delete(f"/api/v1/tweet/{first['tweet_id']}", headers=alice)
    assert (await get(chirp, "/api/v1/hashtag/trio"))["tweets"] == []
    assert (await client.get("/api/v1/hashtag/not-a-tag!")).status_code == 422
