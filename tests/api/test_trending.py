"""Trending through the real app and actors, on a clock the test moves (MockClock)."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import trio
import trio.testing

from chirp.server import Chirp
from chirp.services.trending import TRENDING_TOPICS
from tests.chaos import ChaosMonkey, leaf_actors

from .conftest import running

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MINUTE = 60.0

#: On the virtual clock: real servers keep their own time, which MockClock cannot move.
pytestmark = pytest.mark.embedded_only


async def start(nursery: trio.Nursery, **overrides: Any) -> Chirp:
    return await running(
        nursery, now=lambda: EPOCH + timedelta(seconds=trio.current_time()), **overrides
    )


async def people(chirp: Chirp, prefix: str, count: int, region: str = "global") -> list[int]:
    """Accounts made in the store: hashing passwords on a thread would let the autojump
    clock run on meanwhile."""
    ids = []
    for n in range(count):
        user = await chirp.stores.users.create(
            username=f"{prefix}{n}",
            email=f"{prefix}{n}@example.org",
            password_hash="-",
            display_name=f"{prefix}{n}",
            created_at=EPOCH,
        )
        if region != "global":
            await chirp.services.users.update_profile(user.user_id, region=region)
        ids.append(user.user_id)
    return ids


async def post(chirp: Chirp, author: int, text: str) -> int:
    return (await chirp.services.tweets.post(author, text)).tweet.tweet_id


async def trends(chirp: Chirp, region: str = "global") -> list[str]:
    """The table as served, once a rescore and the response cache's minute have passed."""
    await trio.sleep(2 * MINUTE + 1)
    response = await chirp.app.test_client().get(f"/api/v1/trending?region={region}")
    assert response.status_code == 200, await response.get_data()
    body = await response.get_json()
    assert body["region"] == region
    assert [t["rank"] for t in body["trends"]] == list(range(1, len(body["trends"]) + 1))
    return [t["hashtag"] for t in body["trends"]]


async def test_a_burst_by_many_outranks_a_steady_tag_and_one_spammer_never_trends(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    chirp = await start(nursery)
    steady, crowd, spammer = (
        await people(chirp, "s", 10),
        await people(chirp, "c", 30),
        await people(chirp, "x", 1),
    )
    for minute in range(20):
        for author in steady[minute % 2 :: 2]:
            await post(chirp, author, f"#steady as ever {minute}")
        for n in range(5):
            await post(chirp, spammer[0], f"buy now #spam {minute}.{n}")
        await trio.sleep(MINUTE)
    assert await trends(chirp) == ["steady"], "one author, however loud, does not trend"
    for author in crowd:
        await post(chirp, author, "did you see #burst")
    assert (await trends(chirp))[:2] == ["burst", "steady"], "within minutes of the burst"


async def test_a_tag_nobody_uses_any_more_decays_out(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    chirp = await start(nursery)
    for author in await people(chirp, "a", 4):
        await post(chirp, author, "#fad of the day")
    assert await trends(chirp) == ["fad"]
    await trio.sleep(10 * MINUTE)
    assert await trends(chirp) == []


async def test_regions_and_categories_are_tables_of_their_own(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    chirp = await start(nursery)
    for author in await people(chirp, "uk", 3, region="uk"):
        await post(chirp, author, "time for #tea")
    for author in await people(chirp, "dev", 3):
        await post(chirp, author, "shipping #Python today")
    assert sorted(await trends(chirp, "global")) == ["python", "tea"]
    assert await trends(chirp, "uk") == ["tea"]
    assert await trends(chirp, "us") == []
    assert await trends(chirp, "tech") == ["python"]
    assert await trends(chirp, "sports") == []


async def test_a_deleted_tweet_takes_back_its_contribution(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    chirp = await start(nursery)
    authors = await people(chirp, "a", 3)
    posted = [await post(chirp, author, "#close call") for author in authors]
    assert await trends(chirp) == ["close"]
    await chirp.services.tweets.delete(authors[0], posted[0])
    assert await trends(chirp) == [], "two authors are not enough"


async def test_trending_answers_bad_input_with_problems(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    response = await client.get("/api/v1/trending?region=mars")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    for bad in ("-1", "0", "51", "ten"):
        response = await client.get(f"/api/v1/trending?limit={bad}")
        assert response.status_code == 400, bad
    response = await client.get("/api/v1/trending")
    body = await response.get_json()
    assert response.status_code == 200 and body["region"] == "global" and body["trends"] == []
    assert body["as_of"].endswith("Z"), "UTC, as every timestamp the API gives"


async def test_the_tables_are_listed(chirp: Chirp) -> None:
    response = await chirp.app.test_client().get("/api/v1/trending/regions")
    assert response.status_code == 200
    assert await response.get_json() == {
        "regions": ["global", "us", "uk"],
        "categories": ["sports", "tech"],
    }


async def test_killing_the_trending_actors_mid_stream_loses_and_doubles_nothing(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The same posts, edits and deletes go into two chirps on one clock, minute by
    minute; while each minute's burst runs, a chaos task kills one of the trending actors
    (tables, ticker, consumers) of the second every few scheduler ticks. Both end with the
    same tables."""
    # Time moves only when this test says: with autojump, the search indexer's commits
    # (on a thread) would let the clock run on between the twins' posts.
    autojump_clock.autojump_threshold = math.inf
    both = [await start(nursery, max_restarts=1_000_000) for _ in range(2)]
    calm, chaos = both
    victims = sorted(n for n in leaf_actors(chaos.system.tree()) if n.startswith("trending."))
    rng = random.Random(5)
    tags = ["alpha", "beta", "gamma", "python", "football", "tea"]
    authors = [await people(c, "p", 30) for c in both]
    for c, ids in zip(both, authors, strict=True):
        for user_id in ids[:10]:
            await c.services.users.update_profile(user_id, region="uk")
    posted: list[list[tuple[int, int]]] = [[], []]  # per chirp, (author, tweet) pairs
    monkey = ChaosMonkey(chaos.system, victims, random.Random(1))
    for minute in range(6):
        async with monkey.loose():
            for step in range(minute * 50, minute * 50 + 50):
                n = rng.randrange(30)
                text = f"{step} " + " ".join(f"#{t}" for t in rng.sample(tags, rng.randint(1, 3)))
                action = rng.random()
                pick = rng.randrange(len(posted[0])) if posted[0] else 0
                for c, mine, ids in zip(both, posted, authors, strict=True):
                    if action < 0.1 and mine:
                        await c.services.tweets.delete(*mine.pop(pick))
                    elif action < 0.2 and mine:
                        who, tweet_id = mine[-1]
                        await c.services.tweets.edit(who, tweet_id, f"edited {text}")
                    else:
                        mine.append((ids[n], await post(c, ids[n], text)))
        for c in both:  # caught up before the minute's rescore, as the calm twin is
            await settled(c)
        autojump_clock.jump(MINUTE)
        await trio.testing.wait_all_tasks_blocked()
    for c in both:
        await settled(c)
    assert monkey.kills > 100
    for table in calm.services.trending.tables:
        expected = await calm.services.trending.rescore(table)
        assert expected or table in ("us", "sports"), f"{table} should have trends"
        assert await chaos.services.trending.rescore(table) == expected, table


async def settled(chirp: Chirp) -> None:
    """Until the trending group has applied everything and every actor runs again."""
    while True:
        lags = [sum(await chirp.log.lag("trending", topic)) for topic in TRENDING_TOPICS]
        if not any(lags) and not chirp.system.unavailable():
            return
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(0)  # a thread (an index commit) may still be at work
