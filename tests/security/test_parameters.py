"""Query and path parameters out of range: huge limits, forged cursors, ids past 63 bits.
tests/api/test_bad_input.py tries the shapes on one list; these are the sizes, on all."""

from __future__ import annotations

import pytest
import trio

from chirp.server import Chirp
from tests.api.conftest import running, sign_up
from tests.api.test_tweets import post

from .helpers import assert_problem

HUGE = "9" * 5000  # past the 4,300 digits int() accepts

#: Every list, and the parameters it needs besides.
LISTS = {
    "/api/v1/feed": {},
    "/api/v1/notifications": {},
    "/api/v1/users/{me}/followers": {},
    "/api/v1/users/{me}/tweets": {},
    "/api/v1/tweet/{tweet}/replies": {},
    "/api/v1/hashtag/chirp": {},
    "/api/v1/search": {"q": "chirp"},
    "/api/v1/trending": {},
}


async def ask(chirp: Chirp, template: str, **params: str) -> object:
    """GET the list ``template`` as a fresh user who has tweeted, with ``params``."""
    me, headers = await sign_up(chirp, "alice")
    tweet = await post(chirp, headers, "#chirp hello")
    return await chirp.app.test_client().get(
        template.format(me=me, tweet=tweet["tweet_id"]),
        headers=headers,
        query_string={**LISTS.get(template, {}), **params},
    )


@pytest.mark.parametrize("template", LISTS)
async def test_a_limit_of_thousands_of_digits_is_400(chirp: Chirp, template: str) -> None:
    response = await ask(chirp, template, limit=HUGE)
    assert "limit" in (await assert_problem(response, 400))["detail"]


@pytest.mark.parametrize("limit", [str(1 << 64), "0" * 30 + "5", "1_0", "1e2", "\u216b"])
async def test_limits_that_only_look_like_numbers_are_400(chirp: Chirp, limit: str) -> None:
    await assert_problem(await ask(chirp, "/api/v1/feed", limit=limit), 400)


@pytest.mark.parametrize(
    ("template", "name"),
    [
        ("/api/v1/feed", "max_id"),
        ("/api/v1/notifications", "cursor"),
        ("/api/v1/users/{me}/tweets", "since_id"),
        ("/api/v1/tweet/{tweet}/replies", "max_id"),
        ("/api/v1/hashtag/chirp", "max_id"),
        ("/api/v1/search", "cursor"),
        ("/api/v1/users/{me}/following", "cursor"),
    ],
)
async def test_a_cursor_of_thousands_of_digits_is_400(
    chirp: Chirp, template: str, name: str
) -> None:
    response = await ask(chirp, template, **{name: HUGE})
    assert name in (await assert_problem(response, 400))["detail"]


@pytest.mark.parametrize("forged", [str(1 << 63), "-1", "0x10", "1 OR 1=1", "\x00"])
async def test_forged_cursors_are_400(chirp: Chirp, forged: str) -> None:
    response = await ask(chirp, "/api/v1/feed", max_id=forged)
    assert "max_id" in (await assert_problem(response, 400))["detail"]


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/api/v1/users/{id}"),
        ("get", "/api/v1/users/{id}/tweets"),
        ("get", "/api/v1/users/{id}/followers"),
        ("post", "/api/v1/users/{id}/follow"),
        ("delete", "/api/v1/users/{id}/follow"),
    ],
)
async def test_user_ids_past_63_bits_are_404_on_every_backend(
    nursery: trio.Nursery, every_configuration: str, method: str, template: str
) -> None:
    chirp = await running(nursery)
    _, alice = await sign_up(chirp, "alice")
    client = chirp.app.test_client()
    for user_id in (1 << 63, 1 << 64, int(HUGE[:40])):
        response = await getattr(client, method)(template.format(id=user_id), headers=alice)
        await assert_problem(response, 404)
