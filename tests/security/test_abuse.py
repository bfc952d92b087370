"""Guessing and flooding: password brute force, equal work for names that do not exist,
and bursts that forge their origin to get past the gateway's limits."""

from __future__ import annotations

from collections import Counter
from typing import Any

import argon2
import pytest
import trio

from chirp.server import Chirp
from chirp.services.ratelimits import RateLimits
from tests.api.conftest import running, sign_up
from tests.api.test_tweets import get

from .helpers import PASSWORD, assert_problem, nothing_written

TOKEN_URL = "/api/v1/auth/token"
ATTEMPTS = RateLimits().logins_per_account


async def sign_in(chirp: Chirp, username: str, password: str, **headers: str) -> Any:
    return await chirp.app.test_client().post(
        TOKEN_URL, json={"username": username, "password": password}, headers=headers
    )


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Calls to argon2's verify (the costly part of a sign-in), by the hash checked against;
    hashes made are counted under "hash"."""
    calls: Counter[str] = Counter()
    verify, hash_ = argon2.PasswordHasher.verify, argon2.PasswordHasher.hash

    def counting_verify(self: argon2.PasswordHasher, stored: str, password: str) -> bool:
        calls[stored] += 1
        return verify(self, stored, password)

    def counting_hash(self: argon2.PasswordHasher, password: str, **kwargs: Any) -> str:
        calls["hash"] += 1
        return hash_(self, password, **kwargs)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    monkeypatch.setattr(argon2.PasswordHasher, "hash", counting_hash)
    return calls


async def test_guessing_a_password_is_429_after_the_accounts_attempts_even_when_right(
    chirp: Chirp,
) -> None:
    await sign_up(chirp, "alice")
    for n in range(ATTEMPTS):
        await assert_problem(await sign_in(chirp, "alice", f"guess number {n}"), 401)
    # Spread over other addresses, and finally right: still refused, so it tells nothing.
    right = await sign_in(chirp, "ALICE", PASSWORD, **{"X-Forwarded-For": "203.0.113.9"})
    problem = await assert_problem(right, 429)
    assert "access_token" not in problem
    assert int(right.headers["Retry-After"]) >= 1
    assert right.headers["X-RateLimit-Limit"] == str(ATTEMPTS)
    # Another account is not locked by it.
    await sign_up(chirp, "bob")
    assert (await sign_in(chirp, "bob", PASSWORD)).status_code == 200


async def test_names_nobody_has_are_limited_alike(chirp: Chirp) -> None:
    await sign_up(chirp, "alice")
    known = [(await sign_in(chirp, "alice", "wrong")).status_code for _ in range(ATTEMPTS + 1)]
    unknown = [(await sign_in(chirp, "ghost", "wrong")).status_code for _ in range(ATTEMPTS + 1)]
    assert known == unknown == [401] * ATTEMPTS + [429]


async def test_an_unknown_name_costs_the_same_hash_work_as_a_wrong_password(
    chirp: Chirp, verified: Counter[str]
) -> None:
    await sign_up(chirp, "alice")
    verified.clear()
    cases = {
        "wrong password": ("alice", "not the password"),
        "unknown name": ("ghost", "not the password"),
        "impossible name": ("no such name!", "not the password"),
        "huge name": ("x" * 5000, "not the password"),
        "right password": ("alice", PASSWORD),
    }
    checked_against = {}
    for case, (username, password) in cases.items():
        before = verified.copy()
        response = await sign_in(chirp, username, password)
        assert response.status_code == (200 if case == "right password" else 401)
        done = verified - before
        assert sum(done.values()) == 1 and "hash" not in done, (case, done)
        checked_against[case] = next(iter(done))
    # Every check ran against an argon2id hash of the same cost: the decoy's parameters
    # are the real users'.
    costs = {stored.rsplit("$", 2)[0] for stored in checked_against.values()}
    assert len(costs) == 1 and costs.pop().startswith("$argon2id$")
    assert checked_against["unknown name"] != checked_against["right password"]


async def test_a_concurrent_burst_of_guesses_checks_no_more_passwords_than_allowed(
    chirp: Chirp, verified: Counter[str]
) -> None:
    await sign_up(chirp, "alice")
    verified.clear()
    statuses: list[int] = []

    async def guess(n: int) -> None:
        statuses.append((await sign_in(chirp, "alice", f"guess {n}")).status_code)

    async with trio.open_nursery() as burst:
        for n in range(3 * ATTEMPTS):
            burst.start_soon(guess, n)
    assert Counter(statuses) == {401: ATTEMPTS, 429: 2 * ATTEMPTS}
    assert sum(verified.values()) == ATTEMPTS, "refused before the costly check"


@pytest.mark.parametrize(
    "forged",
    [
        "X-Forwarded-For",
        "X-Real-IP",
        "Forwarded",
        "True-Client-IP",
        "CF-Connecting-IP",
        "X-Client-IP",
    ],
)
async def test_a_sign_up_burst_forging_its_origin_is_429_past_the_address_limit(
    nursery: trio.Nursery, forged: str
) -> None:
    chirp = await running(nursery, rate_requests_per_ip=3)
    client = chirp.app.test_client()
    statuses = []
    for n in range(3):
        origin = f"for=198.51.100.{n}" if forged == "Forwarded" else f"198.51.100.{n}"
        response = await client.post(
            "/api/v1/users",
            headers={forged: origin},
            json={"username": f"bot{n}", "email": f"bot{n}@example.org", "password": PASSWORD},
        )
        statuses.append(response.status_code)
    assert statuses == [201] * 3
    async with nothing_written(chirp):
        response = await client.post(
            "/api/v1/users",
            headers={forged: "192.0.2.77"},
            json={"username": "bot3", "email": "bot3@example.org", "password": PASSWORD},
        )
        await assert_problem(response, 429)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert await chirp.stores.users.find("bot3") is None


async def test_a_concurrent_tweet_burst_stores_exactly_the_limit(nursery: trio.Nursery) -> None:
    chirp = await running(nursery, rate_tweets_per_user=3)
    user_id, alice = await sign_up(chirp, "alice")
    statuses: list[int] = []

    async def tweet(n: int) -> None:
        response = await chirp.app.test_client().post(
            "/api/v1/tweet", headers=alice, json={"content": f"burst {n}"}
        )
        statuses.append(response.status_code)
        if response.status_code != 201:
            await assert_problem(response, 429)

    async with trio.open_nursery() as burst:
        for n in range(12):
            burst.start_soon(tweet, n)
    assert Counter(statuses) == {201: 3, 429: 9}
    assert len((await get(chirp, f"/api/v1/users/{user_id}/tweets"))["tweets"]) == 3
    assert sum(await chirp.log.end_offsets("tweet_created")) == 3
