"""Search through the real app: tweets, users and hashtags, and queries as users type them."""

from __future__ import annotations

import random
from typing import Any

import trio
import trio.testing

from chirp.server import Chirp
from tests.chaos import ChaosMonkey, leaf_actors

from .conftest import running, sign_up
from .waiting import settled


async def indexed(chirp: Chirp) -> None:
    """Everything published so far is in the index and committed (the indexer commits
    every second on its own; tests ask for the commit rather than wait for it)."""
    await settled(chirp, "search")
    await chirp.system.ref("search.indexer").ask(("commit",))


async def search(chirp: Chirp, q: str, kind: str = "tweets", **params: Any) -> dict[str, Any]:
    response = await chirp.app.test_client().get(
        "/api/v1/search", query_string={"q": q, "type": kind, **params}
    )
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def texts(chirp: Chirp, q: str, **params: Any) -> list[str]:
    return [t["content"] for t in (await search(chirp, q, **params))["results"]]


async def post(chirp: Chirp, headers: dict[str, str], content: str) -> str:
    response = await chirp.app.test_client().post(
        "/api/v1/tweet", headers=headers, json={"content": content}
    )
    assert response.status_code == 201, await response.get_data()
    return (await response.get_json())["tweet_id"]


async def test_words_are_stemmed_and_case_folded_and_every_term_must_match(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    await post(chirp, alice, "Running with the Dogs today")
    await post(chirp, alice, "a dog is running")
    await post(chirp, alice, "cats only")
    await indexed(chirp)
    assert sorted(await texts(chirp, "RUN dog")) == [
        "Running with the Dogs today",
        "a dog is running",
    ]
    assert await texts(chirp, "dogs today") == ["Running with the Dogs today"]
    assert await texts(chirp, "zebra") == []


async def test_phrases_tags_mentions_and_authors(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    await post(chirp, alice, "the quick brown fox #Animals with @bob")
    await post(chirp, bob, "brown and quick, a fox #animals")
    await indexed(chirp)
    assert await texts(chirp, '"quick brown"') == ["the quick brown fox #Animals with @bob"]
    assert len(await texts(chirp, "#ANIMALS")) == 2
    assert await texts(chirp, "@bob fox") == ["the quick brown fox #Animals with @bob"]
    assert await texts(chirp, "from:Bob fox") == ["brown and quick, a fox #animals"]


async def test_relevance_then_recency_and_cursors_that_page_through_everything(
    chirp: Chirp,
) -> None:
    _, alice = await sign_up(chirp, "alice")
    for n in range(5):
        await post(chirp, alice, f"hello world number {n}")
    await post(chirp, alice, "hello hello hello")
    await indexed(chirp)
    seen, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = await search(chirp, "hello", **params)
        seen.extend(t["content"] for t in page["results"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[0] == "hello hello hello", "the most relevant first"
    assert seen[1:] == [f"hello world number {n}" for n in range(4, -1, -1)], "then newest"


async def test_deleted_tweets_vanish_and_edited_ones_are_found_by_their_new_text(
    chirp: Chirp,
) -> None:
    _, alice = await sign_up(chirp, "alice")
    gone = await post(chirp, alice, "temporary thought")
    kept = await post(chirp, alice, "original wording")
    await indexed(chirp)
    client = chirp.app.test_client()
    await client.delete(f"/api/v1/tweet/{gone}", headers=alice)
    await client.patch(f"/api/v1/tweet/{kept}", headers=alice, json={"content": "better phrasing"})
    assert await texts(chirp, "temporary") == [], "hidden at once, before the index catches up"
    await indexed(chirp)
    assert await texts(chirp, "temporary") == []
    assert await texts(chirp, "original") == []
    assert await texts(chirp, "phrasing") == ["better phrasing"]


async def test_users_by_name_prefix_first_then_by_bio(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    _, pythonista = await sign_up(chirp, "pythonista")
    _, carol = await sign_up(chirp, "carol", display_name="Python Carol")
    _, dave = await sign_up(chirp, "dave")
    response = await client.patch("/api/v1/users/me", headers=dave, json={"bio": "I write python"})
    assert response.status_code == 200
    await indexed(chirp)
    found = [u["username"] for u in (await search(chirp, "pyth", "users"))["results"]]
    assert found[:2] == ["pythonista", "carol"] or found[:2] == ["carol", "pythonista"]
    found = [u["username"] for u in (await search(chirp, "python", "users"))["results"]]
    assert found[-1] == "dave", "a bio match ranks below name matches"
    assert set(found) == {"pythonista", "carol", "dave"}


async def test_hashtags_by_prefix_most_used_first(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    for n in range(3):
        await post(chirp, alice, f"#rustlang {n}")
    await post(chirp, alice, "#rust and #ruby")
    await indexed(chirp)
    body = await search(chirp, "#ru", "hashtags")
    assert body["results"] == [
        {"hashtag": "rustlang", "tweet_count": 3},
        {"hashtag": "ruby", "tweet_count": 1},
        {"hashtag": "rust", "tweet_count": 1},
    ]


async def test_query_words_are_never_operators(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    await post(chirp, alice, "cats AND dogs or NOT birds")
    await indexed(chirp)
    for q in ("AND", "or", "NOT dogs", '"AND dogs"', "cats AND"):
        assert await texts(chirp, q) == ["cats AND dogs or NOT birds"], q


async def test_bad_queries_are_400_with_a_reason(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    for params in (
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 5000},
        {"q": 'an "unclosed phrase'},
        {"q": "#"},
        {"q": "from:"},
        {"q": "@not-a-name"},
        {"q": "!!!"},
        {"q": "ok", "type": "everything"},
        {"q": "#", "type": "hashtags"},
        {"q": "#no-dash", "type": "hashtags"},
        {"q": "ok", "limit": "-1"},
        {"q": "ok", "cursor": "abc"},
    ):
        response = await client.get("/api/v1/search", query_string=params)
        assert response.status_code == 400, params
        assert response.content_type == "application/problem+json"
        assert (await response.get_json())["detail"], params
    assert (await client.get("/healthz")).status_code == 200


async def test_killing_the_search_actors_mid_stream_loses_and_doubles_nothing(
    nursery: trio.Nursery,
) -> None:
    """The same posts, edits and deletes into two chirps while a chaos task kills the
    search actors (indexer, ticker, consumers) of the second every few scheduler ticks:
    both answer every query alike."""
    both = [await running(nursery, max_restarts=1_000_000) for _ in range(2)]
    calm, chaos = both
    victims = sorted(n for n in leaf_actors(chaos.system.tree()) if n.startswith("search."))
    rng = random.Random(3)
    words = ["apple", "banana", "cherry", "date", "elder", "fig"]
    authors = [await people(c, "p", 10) for c in both]
    posted: list[list[tuple[int, int]]] = [[], []]
    monkey = ChaosMonkey(chaos.system, victims, random.Random(1))
    async with monkey.loose():
        for step in range(300):
            n = rng.randrange(10)
            text = f"{step} " + " ".join(rng.sample(words, 2)) + f" #{rng.choice(words)}"
            action, pick = rng.random(), rng.randrange(len(posted[0])) if posted[0] else 0
            for c, mine, ids in zip(both, posted, authors, strict=True):
                if action < 0.1 and mine:
                    await c.services.tweets.delete(*mine.pop(pick))
                elif action < 0.2 and mine:
                    await c.services.tweets.edit(*mine[-1], f"edited {text}")
                else:
                    mine.append(
                        (ids[n], (await c.services.tweets.post(ids[n], text)).tweet.tweet_id)
                    )
    assert monkey.kills > 50
    for c in both:  # every actor back and caught up: on real servers that takes I/O
        await settled(c)
    assert not chaos.system.unavailable(), "every actor restarted"
    for c in both:
        await indexed(c)
    for q in [*words, *(f"#{w}" for w in words), "edited", "from:p3"]:
        got = [
            await c.services.search.search(q, "tweets", limit=100, cursor=None, viewer=None)
            for c in both
        ]
        assert [v.tweet.content for v in got[0].found] == [v.tweet.content for v in got[1].found], q
    for c in both:
        assert c.services.search.index.hashtags("", limit=10, offset=0)
    assert calm.services.search.index.hashtags("", limit=10, offset=0) == (
        chaos.services.search.index.hashtags("", limit=10, offset=0)
    )


async def people(chirp: Chirp, prefix: str, count: int) -> list[int]:
    return [(await sign_up(chirp, f"{prefix}{n}"))[0] for n in range(count)]
