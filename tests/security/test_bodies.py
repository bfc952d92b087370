"""Request bodies built to break the parser or the rules, on every write that takes one
(tests/api/test_bad_input.py covers signing up): the exact 4xx, and nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from chirp.server import Chirp
from tests.api.conftest import sign_up
from tests.api.test_tweets import get, post

from .helpers import JSON, assert_problem, nothing_written

NESTING_BOMB = b'{"content": "hi", "media_urls": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"


async def test_a_nesting_bomb_in_a_tweet_is_400(chirp: Chirp) -> None:
    user_id, alice = await sign_up(chirp, "alice")
    async with nothing_written(chirp):
        response = await chirp.app.test_client().post(
            "/api/v1/tweet", headers={**alice, **JSON}, data=NESTING_BOMB
        )
        assert "nested" in (await assert_problem(response, 400))["detail"]
    assert (await get(chirp, f"/api/v1/users/{user_id}/tweets"))["tweets"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"content": "bad \xff\xfe bytes"}', 400),  # invalid UTF-8
        (b'{"content": "\\ud800 lone"}', 422),  # a lone surrogate, escaped
        (b'{"content": "nul \\u0000"}', 422),
        (b'{"content": NaN}', 400),
        (b'{"content": "hi", "reply_to_tweet_id": -Infinity}', 400),
        (b'{"content": "hi", "reply_to_tweet_id": 1e400}', 400),  # overflows a float
        (b'{"content": "hi", "reply_to_tweet_id": ' + b"9" * 4000 + b"}", 422),  # an integer
        (b'{"content": "hi", "reply_to_tweet_id": "' + b"9" * 4000 + b'"}', 422),
        (b'{"content": "hi", "content": "something else"}', 400),  # duplicate keys
        (b'{"content": "hi"}{"content": "again"}', 400),  # two documents
        (b'\xef\xbb\xbf{"content": "hi"}', 400),  # a UTF-8 byte order mark
    ],
)
async def test_tweets_that_break_the_parser_or_the_text_rules(
    chirp: Chirp, body: bytes, status: int
) -> None:
    user_id, alice = await sign_up(chirp, "alice")
    async with nothing_written(chirp):
        response = await chirp.app.test_client().post(
            "/api/v1/tweet", headers={**alice, **JSON}, data=body
        )
        await assert_problem(response, status)
    assert (await get(chirp, f"/api/v1/users/{user_id}/tweets"))["tweets"] == []


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json-patch+json",
        "application/jsonx",
    ],
)
async def test_a_tweet_edit_in_another_content_type_is_415(chirp: Chirp, content_type: str) -> None:
    _, alice = await sign_up(chirp, "alice")
    tweet = await post(chirp, alice, "as first written")
    path = f"/api/v1/tweet/{tweet['tweet_id']}"
    async with nothing_written(chirp):
        response = await chirp.app.test_client().patch(
            path,
            headers={**alice, "Content-Type": content_type},
            data=b'{"content": "rewritten"}',
        )
        await assert_problem(response, 415)
    assert (await get(chirp, path))["content"] == "as first written"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"bio": "first", "bio": "second"}', 400),
        (b'{"bio": "' + b"\\u0000" * 10 + b'"}', 422),
        (b'{"display_name": "\\udfff"}', 422),
        (b'{"bio": 1e999}', 400),
        (b'{"region": {"$ne": null}}', 422),  # an operator smuggled in as a value
    ],
)
async def test_profile_bodies_that_break_the_parser_or_the_rules(
    chirp: Chirp, body: bytes, status: int
) -> None:
    _, alice = await sign_up(chirp, "alice")
    before = await get(chirp, "/api/v1/users/me", alice)
    async with nothing_written(chirp):
        response = await chirp.app.test_client().patch(
            "/api/v1/users/me", headers={**alice, **JSON}, data=body
        )
        await assert_problem(response, status)
    assert await get(chirp, "/api/v1/users/me", alice) == before


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        # The right password second: a parser keeping the last key would sign in.
        (
            {
                "data": b'{"username": "alice", "password": "wrong guess!",'
                b' "password": "correct horse battery"}',
                "headers": JSON,
            },
            400,
        ),
        ({"data": b'{"username": "alice", "password": NaN}', "headers": JSON}, 400),
        ({"data": b'{"username": "al\xffice", "password": "x"}', "headers": JSON}, 400),
        ({"json": {"username": ["alice"], "password": "correct horse battery"}}, 422),
        ({"json": {"username": {"$gt": ""}, "password": "correct horse battery"}}, 422),
    ],
)
async def test_sign_in_bodies_that_break_the_parser_get_no_tokens(
    chirp: Chirp, kwargs: dict[str, Any], status: int
) -> None:
    await sign_up(chirp, "alice")
    response = await chirp.app.test_client().post("/api/v1/auth/token", **kwargs)
    problem = await assert_problem(response, status)
    assert "access_token" not in problem
