"""Bearer tokens that must not work: forged, tampered, expired, unsigned, of the wrong kind
or audience, or in the wrong place. Each is a 401 with ``WWW-Authenticate`` and changes
nothing, tried on a write it would otherwise have made."""

from __future__ import annotations

import base64
import json
import time
import warnings
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from chirp.server import Chirp
from chirp.services.auth import TokenIssuer
from tests.api.conftest import ADMIN_TOKEN, admin, sign_up
from tests.api.test_tweets import get, post

from .helpers import assert_problem, bearer, nothing_written, token_of


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def secret_of(chirp: Chirp) -> str:
    return chirp.services.users._tokens._policy.secret


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


async def refused(chirp: Chirp, token: str) -> dict[str, Any]:
    """Posting with ``token`` is a 401 and stores nothing; the problem."""
    async with nothing_written(chirp):
        response = await chirp.app.test_client().post(
            "/api/v1/tweet", headers=bearer(token), json={"content": "not mine to say"}
        )
        problem = await assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    return problem


async def test_a_token_signed_with_another_secret_is_refused(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    forged = jwt.encode(claims_of(token_of(alice)), "a guessed secret, 32 bytes long!!")
    await refused(chirp, forged)


async def test_a_token_whose_subject_was_changed_is_refused(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    tweet = await post(chirp, bob, "bob's own words")
    header, payload, signature = token_of(alice).split(".")
    as_bob = {**claims_of(token_of(alice)), "sub": str(bob_id)}
    tampered = ".".join([header, b64(json.dumps(as_bob).encode()), signature])
    async with nothing_written(chirp):
        response = await chirp.app.test_client().delete(
            f"/api/v1/tweet/{tweet['tweet_id']}", headers=bearer(tampered)
        )
        await assert_problem(response, 401)
    assert (await get(chirp, f"/api/v1/tweet/{tweet['tweet_id']}"))["content"] == (
        "bob's own words"
    )


async def test_an_expired_token_is_refused(chirp: Chirp) -> None:
    user_id, _ = await sign_up(chirp, "alice")
    policy = chirp.services.users._tokens._policy
    two_hours_ago = TokenIssuer(policy, clock=lambda: time.time() - 2 * 3600)
    problem = await refused(chirp, two_hours_ago.issue(user_id).access_token)
    assert "expired" in problem["detail"]


@pytest.mark.parametrize(
    "header",
    [{"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"alg": "nOnE", "typ": "JWT"}],
)
async def test_an_unsigned_alg_none_token_is_refused(chirp: Chirp, header: dict) -> None:
    _, alice = await sign_up(chirp, "alice")
    payload = claims_of(token_of(alice))
    unsigned = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}."
    await refused(chirp, unsigned)


async def test_a_token_signed_with_another_algorithm_and_the_right_secret_is_refused(
    chirp: Chirp,
) -> None:
    _, alice = await sign_up(chirp, "alice")
    with warnings.catch_warnings():  # the generated secret is short for SHA-512
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        other = jwt.encode(claims_of(token_of(alice)), secret_of(chirp), algorithm="HS512")
    await refused(chirp, other)


@pytest.mark.parametrize(
    "changes",
    [
        {"aud": "chirp-admin"},  # another audience
        {"aud": ["chirp-admin", "someone-else"]},
        {"iss": "not-chirp"},
        {"typ": "refresh"},  # made up as a refresh token
        {"exp": None},  # never expires
        {"nbf": int(time.time()) + 3600},  # not valid yet
    ],
)
async def test_claims_chirp_did_not_issue_are_refused_even_when_signed(
    chirp: Chirp, changes: dict
) -> None:
    _, alice = await sign_up(chirp, "alice")
    claims = {**claims_of(token_of(alice)), **changes}
    await refused(
        chirp, jwt.encode({k: v for k, v in claims.items() if v is not None}, secret_of(chirp))
    )


async def test_a_refresh_token_does_not_post(chirp: Chirp) -> None:
    await sign_up(chirp, "alice")
    login = await chirp.app.test_client().post(
        "/api/v1/auth/token", json={"username": "alice", "password": "correct horse battery"}
    )
    problem = await refused(chirp, (await login.get_json())["refresh_token"])
    assert problem["detail"] == "this is not an access token"


async def test_an_access_token_does_not_refresh(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    response = await chirp.app.test_client().post(
        "/api/v1/auth/token",
        json={"grant_type": "refresh_token", "refresh_token": token_of(alice)},
    )
    problem = await assert_problem(response, 401)
    assert problem["detail"] == "this is not an refresh token"


async def test_the_admin_token_is_no_users_token(chirp: Chirp) -> None:
    await refused(chirp, ADMIN_TOKEN)


@pytest.mark.parametrize(
    "near_miss",
    [ADMIN_TOKEN[:-1], ADMIN_TOKEN + "0", ADMIN_TOKEN.upper(), f" {ADMIN_TOKEN}x"],
)
async def test_near_misses_of_the_admin_token_kill_nothing(chirp: Chirp, near_miss: str) -> None:
    response = await chirp.app.test_client().post(
        "/admin/actors/fanout.tweet_created.0/kill", headers=admin(near_miss)
    )
    await assert_problem(response, 403)
    assert chirp.system.restarts("fanout.tweet_created.0") == 0


@pytest.mark.parametrize("where", ["query", "cookie"])
async def test_a_token_anywhere_but_the_authorization_header_is_ignored(
    chirp: Chirp, where: str
) -> None:
    # A token in the URL ends up in access logs and browser history: chirp never reads one.
    _, alice = await sign_up(chirp, "alice")
    token = token_of(alice)
    path = f"/api/v1/tweet?access_token={token}" if where == "query" else "/api/v1/tweet"
    headers = {"Cookie": f"access_token={token}"} if where == "cookie" else {}
    async with nothing_written(chirp):
        response = await chirp.app.test_client().post(
            path, headers=headers, json={"content": "smuggled"}
        )
        await assert_problem(response, 401)


async def test_a_huge_garbage_token_is_a_401_not_a_500(chirp: Chirp) -> None:
    await refused(chirp, "e" * 12_000 + "." + "y" * 100 + "." + "z" * 100)
