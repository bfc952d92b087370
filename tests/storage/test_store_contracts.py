"""The contracts of the user, graph, tweet and engagement stores, run against every backend
`tests.backends` lists for each (a real one skips when its server is not answering)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from chirp.model import Tweet, TweetVersion
from storage.memory import MemoryGraphStore
from storage.protocols import (
    ActivityStore,
    Duplicate,
    EngagementStore,
    GraphStore,
    RateLimitStore,
    TweetStore,
    UserStore,
)
from tests.backends import backends, opened
from tests.servers import Servers

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def backend(kind: str) -> Any:
    """A fixture yielding a fresh store of ``kind`` from each of its backends in turn."""

    @pytest.fixture(name=kind, params=backends(kind))
    async def store(request: pytest.FixtureRequest, servers: Servers) -> AsyncIterator[Any]:
        async with opened(kind, request.param, servers) as fresh:
            yield fresh

    return store


users = backend("users")
graph = backend("graph")
tweets = backend("tweets")
engagement = backend("engagement")
rate_limits = backend("rate_limits")
activity = backend("activity")


async def new_user(store: UserStore, name: str) -> int:
    user = await store.create(
        username=name,
        email=f"{name}@example.org",
        password_hash="h",
        display_name=name,
        created_at=NOW,
    )
    return user.user_id


# Users


async def test_users_get_rising_ids_and_are_found_by_name_in_any_case(users: UserStore) -> None:
    alice = await users.create(
        username="Alice_1",
        email="Alice@Example.org",
        password_hash="argon2-hash",
        display_name="Alice",
        created_at=NOW,
    )
    bob = await new_user(users, "bob")
    assert bob > alice.user_id > 0
    assert (alice.username, alice.email, alice.bio, alice.verified) == (
        "Alice_1",
        "Alice@Example.org",
        "",
        False,
    )
    assert await users.find("alice_1") == alice
    assert await users.get(alice.user_id) == alice
    assert await users.get(10**9) is None
    assert set(await users.get_many([alice.user_id, bob, 10**9])) == {alice.user_id, bob}
    assert await users.password_hash(alice.user_id) == "argon2-hash"


@pytest.mark.parametrize(
    ("username", "email", "field"),
    [
        ("ALICE", "other@example.org", "username"),
        ("other", "ALICE@example.ORG", "email"),
    ],
)
async def test_usernames_and_emails_are_unique_regardless_of_case(
    users: UserStore, username: str, email: str, field: str
) -> None:
    await new_user(users, "alice")
    with pytest.raises(Duplicate) as raised:
        await users.create(
            username=username, email=email, password_hash="h", display_name="x", created_at=NOW
        )
    assert raised.value.field == field
    # Nothing was stored: the field that was free is free still.
    if field == "email":
        assert await users.find("other") is None
    else:
        await users.create(
            username="fresh", email=email, password_hash="h", display_name="x", created_at=NOW
        )


async def test_profile_updates_change_only_the_fields_given(users: UserStore) -> None:
    user_id = await new_user(users, "carol")
    updated = await users.update_profile(user_id, bio="hello")
    assert (updated.bio, updated.display_name) == ("hello", "carol")
    updated = await users.update_profile(
        user_id, display_name="Carol C", profile_image_url="https://img.example/c.png"
    )
    assert (updated.bio, updated.display_name, updated.profile_image_url) == (
        "hello",
        "Carol C",
        "https://img.example/c.png",
    )
    assert await users.get(user_id) == updated
    await users.set_password_hash(user_id, "rehashed")
    assert await users.password_hash(user_id) == "rehashed"


# Graph


async def test_follows_are_idempotent_and_counted(graph: GraphStore) -> None:
    assert await graph.follow(1, 2, NOW) is True
    assert await graph.follow(1, 2, NOW) is False
    assert await graph.is_following(1, 2) and not await graph.is_following(2, 1)
    await graph.follow(3, 2, NOW)
    assert await graph.counts([1, 2, 3, 4]) == {1: (0, 1), 2: (2, 0), 3: (0, 1), 4: (0, 0)}
    assert await graph.unfollow(1, 2) == 1, "3 still follows 2"
    assert await graph.unfollow(1, 2) is None
    assert await graph.counts([2]) == {2: (1, 0)}


async def test_follower_lists_page_newest_first(graph: GraphStore) -> None:
    for follower in range(10, 17):
        await graph.follow(follower, 1, NOW)
    await graph.unfollow(13, 1)
    first = await graph.followers(1, limit=4)
    assert first.items == [16, 15, 14, 12]
    second = await graph.followers(1, limit=4, before=first.next_cursor)
    assert (second.items, second.next_cursor) == ([11, 10], None)
    assert (await graph.following(10, limit=5)).items == [1]
    assert (await graph.followers(99, limit=5)).items == []


@pytest.mark.parametrize("graph_backend", backends("graph"))
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 4), st.integers(0, 4)), max_size=60))
def test_counts_always_match_the_edges(
    graph_backend: str, servers: Servers, ops: list[tuple[bool, int, int]]
) -> None:
    async def run() -> None:
        async with opened("graph", graph_backend, servers) as store:
            edges = set()
            for follow, a, b in ops:
                if follow:
                    assert await store.follow(a, b, NOW) == ((a, b) not in edges)
                    edges.add((a, b))
                else:
                    had = (a, b) in edges
                    edges.discard((a, b))
                    left = await store.unfollow(a, b)
                    if had:
                        assert left == sum(1 for _, followee in edges if followee == b)
                    else:
                        assert left is None
            expected = {
                u: (sum(1 for _, b in edges if b == u), sum(1 for a, _ in edges if a == u))
                for u in range(5)
            }
            assert await store.counts(range(5)) == expected
            for u in range(5):
                page = await store.followers(u, limit=100)
                assert sorted(page.items) == sorted(a for a, b in edges if b == u)

    trio.run(run)


# Tweets


def tweet(tweet_id: int, user_id: int = 1, **fields: Any) -> Tweet:
    return Tweet(tweet_id, user_id, fields.pop("content", f"tweet {tweet_id}"), NOW, **fields)


async def test_tweets_are_stored_and_listed_newest_first_by_snowflake_cursors(
    tweets: TweetStore,
) -> None:
    for tweet_id in (100, 200, 300, 400):
        await tweets.put(tweet(tweet_id))
    await tweets.put(tweet(250, user_id=2))
    listed = await tweets.by_user(1, limit=10)
    assert [t.tweet_id for t in listed] == [400, 300, 200, 100]
    assert [t.tweet_id for t in await tweets.by_user(1, limit=2, max_id=300)] == [300, 200]
    assert [t.tweet_id for t in await tweets.by_user(1, limit=10, since_id=200)] == [400, 300]
    assert await tweets.tweet_counts([1, 2, 3]) == {1: 4, 2: 1, 3: 0}
    assert (await tweets.get(250)) == tweet(250, user_id=2)
    assert set(await tweets.get_many([100, 250, 999])) == {100, 250}
    with pytest.raises(ValueError):
        await tweets.put(tweet(100))


async def test_newest_ids_answer_for_many_authors_at_once(tweets: TweetStore) -> None:
    for tweet_id in (100, 200, 300, 400):
        await tweets.put(tweet(tweet_id))
    for tweet_id in (150, 250, 350):
        await tweets.put(tweet(tweet_id, user_id=2))
    await tweets.delete(300)
    assert await tweets.newest_ids([1, 2, 3], limit=2) == {1: [400, 200], 2: [350, 250], 3: []}
    assert await tweets.newest_ids([2, 1, 2], limit=10, max_id=250) == {
        2: [250, 150],
        1: [200, 100],
    }
    assert await tweets.newest_ids([], limit=5) == {}


async def test_replies_are_listed_and_counted_under_their_parent(tweets: TweetStore) -> None:
    await tweets.put(tweet(1))
    for reply_id in (5, 6, 7):
        await tweets.put(tweet(reply_id, user_id=2, reply_to=1))
    assert [t.tweet_id for t in await tweets.replies(1, limit=10)] == [7, 6, 5]
    assert await tweets.reply_counts([1, 5]) == {1: 3, 5: 0}
    assert (await tweets.delete(6)) is not None
    assert await tweets.reply_counts([1]) == {1: 2}


async def test_edits_keep_the_history_and_deletes_remove_everything(tweets: TweetStore) -> None:
    original = tweet(10, content="frist", hashtags=("typo",))
    await tweets.put(original)
    edited = tweet(10, content="first", edited_at=NOW + timedelta(minutes=1))
    previous = TweetVersion(original.content, original.hashtags, (), (), original.created_at)
    await tweets.edit(edited, previous)
    assert await tweets.get(10) == edited
    assert await tweets.history(10) == [previous]
    assert await tweets.delete(10) == edited
    assert await tweets.get(10) is None
    assert await tweets.history(10) == []
    assert await tweets.by_user(1, limit=5) == []
    assert await tweets.delete(10) is None


async def test_the_hashtag_index_follows_posts_edits_and_deletes(tweets: TweetStore) -> None:
    await tweets.put(tweet(1, hashtags=("Trio",)))
    await tweets.put(tweet(2, hashtags=("trio", "python")))
    await tweets.put(tweet(3, hashtags=("python",)))
    assert [t.tweet_id for t in await tweets.by_hashtag("TRIO", limit=10)] == [2, 1]
    old = await tweets.get(2)
    assert old is not None
    previous = TweetVersion(old.content, old.hashtags, (), (), NOW)
    await tweets.edit(tweet(2, hashtags=("rust",)), previous)
    assert [t.tweet_id for t in await tweets.by_hashtag("trio", limit=10)] == [1]
    assert [t.tweet_id for t in await tweets.by_hashtag("rust", limit=10)] == [2]
    await tweets.delete(3)
    assert [t.tweet_id for t in await tweets.by_hashtag("python", limit=10)] == []
    assert [t.tweet_id for t in await tweets.by_hashtag("trio", limit=1, max_id=1)] == [1]


# Engagement


async def test_likes_and_retweets_are_one_per_user_and_counted_exactly(
    engagement: EngagementStore,
) -> None:
    assert await engagement.like(1, 50) is True
    assert await engagement.like(1, 50) is False
    await engagement.like(2, 50)
    assert await engagement.retweet(1, 50, retweet_id=900) is None
    assert await engagement.retweet(1, 50, retweet_id=901) == 900
    assert await engagement.counts([50, 51]) == {50: (2, 1), 51: (0, 0)}
    assert await engagement.liked(1, [50, 51]) == {50}
    assert await engagement.retweeted(1, [50, 51]) == {50: 900}
    assert await engagement.unlike(1, 50) is True
    assert await engagement.unlike(1, 50) is False
    assert await engagement.unretweet(1, 50) == 900
    assert await engagement.unretweet(1, 50) is None
    assert await engagement.counts([50]) == {50: (1, 0)}


async def test_forgetting_a_tweet_drops_its_engagement_and_names_its_retweets(
    engagement: EngagementStore,
) -> None:
    await engagement.like(1, 60)
    await engagement.retweet(2, 60, retweet_id=700)
    await engagement.retweet(3, 60, retweet_id=701)
    assert sorted(await engagement.retweets_of(60)) == [700, 701]
    assert sorted(await engagement.forget_tweet(60)) == [700, 701]
    assert await engagement.retweets_of(60) == []
    assert await engagement.counts([60]) == {60: (0, 0)}
    assert await engagement.liked(1, [60]) == set()


# Rate limits


async def test_buckets_are_per_key_and_refill_with_time(rate_limits: RateLimitStore) -> None:
    decisions = [await rate_limits.acquire("a", 3, 60.0, 1000.0) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[3].retry_after == pytest.approx(20.0)
    assert (await rate_limits.acquire("b", 3, 60.0, 1000.0)).allowed
    assert (await rate_limits.acquire("a", 3, 60.0, 1020.0)).allowed


# Activity


async def test_activity_answers_who_was_seen_since_a_moment(activity: ActivityStore) -> None:
    day = 24 * 3600.0
    await activity.touch(1, 10 * day)
    await activity.touch(2, 2 * day)
    await activity.touch(2, 2 * day + 5)  # coarse: may be skipped, still counts
    assert await activity.active_since([1, 2, 3], since=3 * day) == {1}
    assert await activity.active_since([1, 2, 3], since=2 * day) == {1, 2}
    await activity.touch(2, 11 * day)
    assert await activity.active_since([1, 2, 3], since=10.5 * day) == {2}


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30),
)
def test_a_bulk_load_is_the_same_as_following_one_by_one(
    before: list[tuple[int, int]], bulk: list[tuple[int, int]]
) -> None:
    async def run() -> None:
        loaded, followed = MemoryGraphStore(), MemoryGraphStore()
        for a, b in before:
            await loaded.follow(a, b, NOW)
            await followed.follow(a, b, NOW)
        assert loaded.load(bulk) == len(set(bulk) - set(before))
        for a, b in bulk:
            await followed.follow(a, b, NOW)
        for u in range(5):
            for side in ("followers", "following"):
                got = await getattr(loaded, side)(u, limit=100)
                want = await getattr(followed, side)(u, limit=100)
                assert got.items == want.items, (side, u)

    trio.run(run)
