"""Passwords, tokens and emails never appear in logs, nor in any response but their
owner's; the admin token and the JWT secret in none at all."""

from __future__ import annotations

import logging

import httpx
import pytest

from chirp.server import Chirp, Running
from tests.api.conftest import ADMIN_TOKEN, admin, sign_up
from tests.api.test_tweets import post
from tests.api.waiting import settled

from .helpers import PASSWORD, assert_problem, bearer, token_of

#: The client's own loggers: what httpx logs of its requests is not chirp's to answer for.
CLIENT_LOGGERS = ("httpx", "httpcore", "hpack")


def jwt_secret(chirp: Chirp) -> str:
    return chirp.services.users._tokens._policy.secret


def leaked(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() if secret in text]


async def test_a_sessions_secrets_never_reach_the_logs(
    served: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def broken() -> str:
        raise RuntimeError("a bug")

    served.chirp.app.add_url_rule("/broken", view_func=broken, methods=["POST"])
    secrets = {
        "password": PASSWORD,
        "a guessed password": "hunter2-is-my-guess",
        "email": "alice.private@example.org",
        "admin token": ADMIN_TOKEN,
        "JWT secret": jwt_secret(served.chirp),
    }
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        signed_up = await client.post(
            "/api/v1/users",
            json={"username": "alice", "email": secrets["email"], "password": PASSWORD},
        )
        assert signed_up.status_code == 201
        secrets["sign-up access token"] = signed_up.json()["access_token"]
        by_form = await client.post(
            "/api/v1/auth/token", data={"username": "alice", "password": PASSWORD}
        )
        secrets["access token"] = by_form.json()["access_token"]
        secrets["refresh token"] = by_form.json()["refresh_token"]
        renewed = await client.post(
            "/api/v1/auth/token",
            json={"grant_type": "refresh_token", "refresh_token": secrets["refresh token"]},
        )
        secrets["renewed access token"] = renewed.json()["access_token"]
        me = bearer(secrets["renewed access token"])
        assert (await client.post("/api/v1/tweet", headers=me, json={"content": "hi"})).is_success
        assert (await client.get("/api/v1/feed", headers=me)).is_success
        failures = [
            await client.post(
                "/api/v1/auth/token",
                json={"username": "alice", "password": secrets["a guessed password"]},
            ),
            await client.get("/api/v1/users/me", headers=bearer(secrets["access token"] + "x")),
            await client.post("/api/v1/tweet", headers=bearer(secrets["refresh token"]), json={}),
            await client.get("/admin/actors", headers=admin(ADMIN_TOKEN[::-1])),
        ]
        # An unexpected error is logged with its request: the line, never its secrets.
        failures.append(
            await client.post(
                f"/broken?access_token={secrets['access token']}",
                headers=me,
                json={"password": PASSWORD, "email": secrets["email"]},
            )
        )
        killed = await client.post("/admin/actors/fanout.tweet_created.0/kill", headers=admin())
        assert killed.status_code == 202
        assert [f.status_code for f in failures] == [401, 401, 401, 403, 500]
    chirps = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert any(r.name == "chirp.api" and "POST /broken" in r.getMessage() for r in chirps)
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in chirps:
        assert not leaked(formatter.format(record), secrets), record.name


async def test_others_never_see_an_email_or_a_token(chirp: Chirp) -> None:
    email = "alice.private@example.org"
    alice_id, alice = await sign_up(chirp, "alice", email=email)
    bob_id, bob = await sign_up(chirp, "bob")
    client = chirp.app.test_client()
    for path, headers in (
        (f"/api/v1/users/{alice_id}/follow", bob),
        (f"/api/v1/users/{bob_id}/follow", alice),
    ):
        assert (await client.post(path, headers=headers)).status_code == 200
    tweet = await post(chirp, alice, "hello @bob #chirp")
    liked = await client.post(f"/api/v1/tweet/{tweet['tweet_id']}/like", headers=bob)
    assert liked.status_code == 200
    await settled(chirp)
    secrets = {"email": email, "password": PASSWORD, "token": token_of(alice)}
    reads = [
        f"/api/v1/users/{alice_id}",
        "/api/v1/users?username=alice",
        f"/api/v1/users/{bob_id}/following",
        f"/api/v1/users/{alice_id}/followers",
        f"/api/v1/users/{alice_id}/tweets",
        f"/api/v1/tweet/{tweet['tweet_id']}",
        f"/api/v1/tweet/{tweet['tweet_id']}/history",
        "/api/v1/hashtag/chirp",
        "/api/v1/search?type=users&q=alice",
        "/api/v1/search?q=hello",
        "/api/v1/feed",
        "/api/v1/notifications",
    ]
    for path in reads:
        for headers in (bob, {}):
            response = await client.get(path, headers=headers)
            if path in ("/api/v1/feed", "/api/v1/notifications") and not headers:
                await assert_problem(response, 401)
            else:
                assert response.status_code == 200, path
            assert not leaked((await response.get_data()).decode(), secrets), path
    # Alice herself sees her email, and never her password.
    own = await (await client.get("/api/v1/users/me", headers=alice)).get_data()
    assert email in own.decode() and PASSWORD not in own.decode()


@pytest.mark.parametrize(
    "body",
    [
        {"username": "carol", "email": "carol@example.org", "password": "p" * 300},
        {"username": "carol", "email": "carol@example.org", "password": "pass\u0007word-secret"},
        {"username": "carol", "email": "carol@example.org", "password": ["hidden-secret"]},
        {"username": "carol", "email": "carol@example.org", "password": "s3cret!", "pin": 1},
    ],
)
async def test_a_refused_sign_up_never_echoes_the_password(chirp: Chirp, body: dict) -> None:
    response = await chirp.app.test_client().post("/api/v1/users", json=body)
    problem = await assert_problem(response, 422)
    password = body["password"] if isinstance(body["password"], str) else body["password"][0]
    assert password not in str(problem)


async def test_operators_views_hold_no_secret(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    await post(chirp, alice, "hello")
    secrets = {
        "admin token": ADMIN_TOKEN,
        "JWT secret": jwt_secret(chirp),
        "token": token_of(alice),
        "email": "alice@example.org",
        "password": PASSWORD,
    }
    client = chirp.app.test_client()
    for path in ("/admin/actors", "/admin/dashboard", "/metrics", "/healthz", "/readyz"):
        response = await client.get(path, headers=admin())
        assert response.status_code == 200, path
        assert not leaked((await response.get_data()).decode(), secrets), path
