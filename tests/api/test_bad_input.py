"""Bad input through the real app: the right 4xx, a problem+json body, nothing changed."""

from __future__ import annotations

import pytest

from chirp.server import Chirp

from .conftest import sign_up

GOOD = b'{"username": "zed", "email": "zed@example.org", "password": "correct horse battery"}'
JSON = {"Content-Type": "application/json"}


async def assert_nobody_signed_up(chirp: Chirp) -> None:
    response = await chirp.app.test_client().get("/api/v1/users?username=zed")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b'{"username": "zed", ', JSON, 400),  # malformed
        (b'\xff\xfe{"username": "zed"}', JSON, 400),  # invalid UTF-8
        (GOOD[:-1] + b', "x": ' + b"[" * 40 + b"]" * 40 + b"}", JSON, 400),  # deep nesting
        (b"[" * 30_000 + b"]" * 30_000, JSON, 400),  # a nesting bomb, under the size limit
        (GOOD[:-1] + b', "n": NaN}', JSON, 400),
        (GOOD[:-1] + b', "n": Infinity}', JSON, 400),
        (GOOD[:-1] + b', "n": 1e999}', JSON, 400),
        (GOOD[:-1] + b', "n": ' + b"9" * 5000 + b"}", JSON, 400),  # an absurd integer
        (
            b'{"username": "zed", "username": "other", "email": "zed@example.org",'
            b' "password": "correct horse battery"}',
            JSON,
            400,
        ),  # duplicate keys
        (b"", JSON, 400),
        (b'"just a string"', JSON, 422),
        (b"[1, 2, 3]", JSON, 422),
        (GOOD, {"Content-Type": "text/plain"}, 415),
        (GOOD, {}, 415),
        (GOOD, {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ],
)
async def test_bodies_that_are_not_one_good_json_object(
    chirp: Chirp, body: bytes, headers: dict[str, str], status: int
) -> None:
    response = await chirp.app.test_client().post("/api/v1/users", data=body, headers=headers)
    assert response.status_code == status, await response.get_data()
    assert response.content_type == "application/problem+json"
    assert (await response.get_json())["status"] == status
    await assert_nobody_signed_up(chirp)
    assert (await chirp.app.test_client().get("/healthz")).status_code == 200


@pytest.mark.parametrize("declared", [True, False])
async def test_bodies_over_64_kib_are_413(chirp: Chirp, declared: bool) -> None:
    body = GOOD[:-1] + b', "pad": "' + b"x" * (64 * 1024) + b'"}'
    headers = {**JSON, **({"Content-Length": str(len(body))} if declared else {})}
    response = await chirp.app.test_client().post("/api/v1/users", data=body, headers=headers)
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    await assert_nobody_signed_up(chirp)


@pytest.mark.parametrize(
    "query",
    [
        "limit=-1",
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=1.5",
        "limit=",
        "limit=%EF%BC%91",
        "cursor=abc",
        "cursor=-5",
        "cursor=" + "9" * 30,
        "cursor=1e3",
    ],
)
async def test_bad_list_parameters_are_400(chirp: Chirp, query: str) -> None:
    user_id, _ = await sign_up(chirp, "lister")
    response = await chirp.app.test_client().get(f"/api/v1/users/{user_id}/followers?{query}")
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"


async def test_ids_that_are_not_numbers_find_nothing(chirp: Chirp) -> None:
    for path in ("/api/v1/users/abc", "/api/v1/users/-1", "/api/v1/users/1e3"):
        response = await chirp.app.test_client().get(path)
        assert response.status_code == 404
        assert response.content_type == "application/problem+json"
