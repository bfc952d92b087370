"""Home feeds end to end: write, let the fan-out settle, read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio
import trio.testing

from chirp.fanout_policy import Tier
from chirp.server import Chirp

from .conftest import running, sign_up
from .waiting import settled


async def settle(chirp: Chirp) -> None:
    """The fan-out has applied everything and waits for more."""
    await settled(chirp, "fanout")


async def act(chirp: Chirp, method: str, path: str, headers: dict, **body: Any) -> Any:
    response = await getattr(chirp.app.test_client(), method)(
        path, headers=headers, **({"json": body} if body else {})
    )
    assert response.status_code < 300, await response.get_data()
    return await response.get_json() if response.status_code != 204 else None


async def feed(chirp: Chirp, headers: dict, query: str = "") -> tuple[list[str], str]:
    response = await chirp.app.test_client().get(f"/api/v1/feed{query}", headers=headers)
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    return [t["content"] or f"RT {t['retweet_of']['content']}" for t in body["tweets"]], (
        response.headers["X-Feed-Source"]
    )


async def test_a_feed_is_regenerated_once_then_kept_by_the_fan_out(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    await act(chirp, "post", f"/api/v1/users/{bob_id}/follow", alice)
    await act(chirp, "post", "/api/v1/tweet", bob, content="first from bob")
    await settle(chirp)
    assert await feed(chirp, alice) == (["first from bob"], "regenerated")
    await act(chirp, "post", "/api/v1/tweet", bob, content="second from bob")
    await act(chirp, "post", "/api/v1/tweet", alice, content="my own")
    await settle(chirp)
    assert await feed(chirp, alice) == (["my own", "second from bob", "first from bob"], "cache")


async def test_deletes_retweets_and_unfollows_show_in_the_feed(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    carol_id, carol = await sign_up(chirp, "carol")
    for who in (bob_id, carol_id):
        await act(chirp, "post", f"/api/v1/users/{who}/follow", alice)
    await feed(chirp, alice)  # the feed exists from now on: pushes land in it
    kept = await act(chirp, "post", "/api/v1/tweet", bob, content="kept")
    gone = await act(chirp, "post", "/api/v1/tweet", bob, content="gone")
    await act(chirp, "post", f"/api/v1/tweet/{kept['tweet_id']}/retweet", carol)
    await settle(chirp)
    assert (await feed(chirp, alice))[0] == ["RT kept", "gone", "kept"]
    await act(chirp, "delete", f"/api/v1/tweet/{gone['tweet_id']}", bob)
    await settle(chirp)
    assert await feed(chirp, alice) == (["RT kept", "kept"], "cache")
    await act(chirp, "delete", f"/api/v1/users/{bob_id}/follow", alice)
    await settle(chirp)
    assert (await feed(chirp, alice))[0] == ["RT kept"], "bob's own tweets are hidden"


async def test_pages_follow_max_id(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    for n in range(5):
        await act(chirp, "post", "/api/v1/tweet", alice, content=f"t{n}")
    response = await chirp.app.test_client().get("/api/v1/feed?limit=2", headers=alice)
    body = await response.get_json()
    assert [t["content"] for t in body["tweets"]] == ["t4", "t3"]
    rest = await feed(chirp, alice, f"?limit=10&max_id={body['next_cursor']}")
    assert rest[0] == ["t2", "t1", "t0"]


async def test_only_the_caller_reads_their_feed(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    bob_id, _ = await sign_up(chirp, "bob")
    client = chirp.app.test_client()
    assert (await client.get(f"/api/v1/feed?userId={bob_id}", headers=alice)).status_code == 403
    assert (await client.get(f"/api/v1/feed?userId={alice_id}", headers=alice)).status_code == 200
    assert (await client.get("/api/v1/feed")).status_code == 401


async def test_each_tier_takes_its_path(nursery: trio.Nursery) -> None:
    chirp = await running(nursery, fanout_push_all_below=2, fanout_pull_above=3)
    writes = chirp.fanout.writes
    small_id, small = await sign_up(chirp, "small")  # 1 follower: push to all
    mid_id, mid = await sign_up(chirp, "mid")  # 2..3 followers: push to the active
    star_id, star = await sign_up(chirp, "star")  # 4 followers: pull
    fans = [await sign_up(chirp, f"fan{n}") for n in range(4)]
    for n, (_, headers) in enumerate(fans):
        for target, wanted in ((small_id, n < 1), (mid_id, n < 3), (star_id, True)):
            if wanted:
                await act(chirp, "post", f"/api/v1/users/{target}/follow", headers)
    for _, headers in fans:
        await feed(chirp, headers)  # every fan has a cached feed
    await settle(chirp)
    writes.clear()
    await act(chirp, "post", "/api/v1/tweet", small, content="from small")
    await settle(chirp)
    assert writes == {Tier.PUSH_ALL: 2}, "the author and the one follower"
    writes.clear()
    await act(chirp, "post", "/api/v1/tweet", star, content="from star")
    await settle(chirp)
    assert writes == {Tier.PULL: 1}, "only the author's own feed"
    for _, headers in fans:
        assert "from star" in (await feed(chirp, headers))[0], "merged at read time"
    writes.clear()
    await act(chirp, "post", "/api/v1/tweet", mid, content="from mid")
    await settle(chirp)
    assert writes == {Tier.PUSH_ACTIVE: 4}, "the author and three fans, all active"


@pytest.mark.embedded_only  # cache-node actors: Redis restarts are tested on their own
async def test_a_killed_cache_node_costs_a_regeneration_only(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    await act(chirp, "post", "/api/v1/tweet", alice, content="still here")
    await settle(chirp)
    assert (await feed(chirp, alice))[1] == "regenerated"
    assert (await feed(chirp, alice))[1] == "cache"
    for node in range(chirp.settings.cache_nodes):
        chirp.system.kill(f"cache.node{node}")
    await trio.testing.wait_all_tasks_blocked()
    assert await feed(chirp, alice) == (["still here"], "regenerated")


async def test_after_a_burst_the_lag_returns_to_zero_and_every_feed_has_every_tweet(
    chirp: Chirp,
) -> None:
    users, tweets = chirp.services.users, chirp.services.tweets
    people = []
    for n in range(20):
        view, _ = await users.register(
            username=f"b{n}", email=f"b{n}@x.org", password="long enough pw"
        )
        people.append(view.user.user_id)
    for follower in people:
        for followee in people:
            if follower != followee and (follower + followee) % 3 == 0:
                await users.follow(follower, followee)
    for person in people:
        await users.seen(person)  # as the gateway records any signed-in request
        await chirp.services.feeds.read(person, limit=1, max_id=None)  # cache every feed
    posted: dict[int, list[int]] = {p: [] for p in people}

    async def burst(author: int) -> None:
        for n in range(25):
            posted[author].append((await tweets.post(author, f"{author}:{n}")).tweet.tweet_id)

    async with trio.open_nursery() as nursery:
        for author in people:
            nursery.start_soon(burst, author)
    await settle(chirp)  # asserts the fan-out group's lag is 0 on every topic
    for reader in people:
        followed = {reader} | {p for p in people if p != reader and (p + reader) % 3 == 0}
        expected = sorted((t for a in followed for t in posted[a]), reverse=True)
        page = await chirp.services.feeds.read(reader, limit=100, max_id=None)
        assert not page.regenerated, "served by the fan-out, not rebuilt"
        assert [v.tweet.tweet_id for v in page.tweets] == expected[:100]


async def test_feeds_hydrate_through_the_tweet_cache_which_follows_edits_and_deletes(
    chirp: Chirp,
) -> None:
    _, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    await act(chirp, "post", f"/api/v1/users/{bob_id}/follow", alice)
    draft = await act(chirp, "post", "/api/v1/tweet", bob, content="draft")
    other = await act(chirp, "post", "/api/v1/tweet", bob, content="other")
    await settle(chirp)
    cached = chirp.services.tweets.cached
    await feed(chirp, alice)
    hits = cached.hits
    assert (await feed(chirp, alice))[0] == ["other", "draft"]
    assert cached.hits == hits + 2, "both tweets came from tweet:{id}"
    await act(chirp, "patch", f"/api/v1/tweet/{draft['tweet_id']}", bob, content="final")
    await act(chirp, "delete", f"/api/v1/tweet/{other['tweet_id']}", bob)
    assert (await feed(chirp, alice))[0] == ["final"], "edits and deletes are seen at once"
    await settle(chirp)
    assert (await feed(chirp, alice))[0] == ["final"]
    body = await act(chirp, "get", f"/api/v1/tweet/{draft['tweet_id']}", alice)
    assert body["content"] == "final"


async def test_a_celebrity_back_under_the_threshold_keeps_their_pull_era_tweets(
    nursery: trio.Nursery,
) -> None:
    chirp = await running(nursery, fanout_push_all_below=2, fanout_pull_above=2)
    star_id, star = await sign_up(chirp, "star")
    fans = [(await sign_up(chirp, f"fan{n}"))[1] for n in range(3)]
    for headers in fans:
        await act(chirp, "post", f"/api/v1/users/{star_id}/follow", headers)
        await feed(chirp, headers)
    await act(chirp, "post", "/api/v1/tweet", star, content="pulled")
    await settle(chirp)
    assert chirp.fanout.writes == {Tier.PULL: 1}
    await act(chirp, "delete", f"/api/v1/users/{star_id}/follow", fans[2])
    await settle(chirp)  # 2 followers: pushed to again, and merged no more
    for headers in fans[:2]:
        assert await feed(chirp, headers) == (["pulled"], "regenerated")
    await act(chirp, "post", "/api/v1/tweet", star, content="pushed")
    await settle(chirp)
    assert await feed(chirp, fans[1]) == (["pushed", "pulled"], "cache")


async def test_a_follower_back_after_a_week_away_gets_what_the_middle_tier_skipped(
    nursery: trio.Nursery,
) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    chirp = await running(
        nursery, now=lambda: clock[0], fanout_push_all_below=1, fanout_pull_above=10
    )
    author_id, author = await sign_up(chirp, "author")
    _, away = await sign_up(chirp, "away")
    _, here = await sign_up(chirp, "here")
    for headers in (away, here):
        await act(chirp, "post", f"/api/v1/users/{author_id}/follow", headers)
    clock[0] += timedelta(days=8)
    await feed(chirp, here)
    chirp.fanout.writes.clear()
    await act(chirp, "post", "/api/v1/tweet", author, content="while you were away")
    await settle(chirp)
    assert chirp.fanout.writes == {Tier.PUSH_ACTIVE: 2}, "the author and the one still here"
    assert await feed(chirp, here) == (["while you were away"], "cache")
    assert await feed(chirp, away) == (["while you were away"], "regenerated")
