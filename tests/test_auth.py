"""Password hashing and tokens."""

from __future__ import annotations

import time

import argon2
import jwt
import pytest

from chirp.services.auth import ACCESS, REFRESH, PasswordPolicy, Passwords, TokenIssuer, TokenPolicy
from chirp.services.errors import Unauthorized

FAST = PasswordPolicy(memory_kib=1024, time_cost=1)
POLICY = TokenPolicy(secret="s" * 32)


async def test_passwords_hash_with_argon2id_and_check() -> None:
    passwords = Passwords(FAST)
    stored = await passwords.hash("correct horse")
    assert stored.startswith("$argon2id$")
    assert await passwords.check(stored, "correct horse")
    assert not await passwords.check(stored, "wrong horse")
    assert not await passwords.check("not a hash", "correct horse")


async def test_an_unknown_user_costs_a_real_check(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords = Passwords(FAST)
    verified: list[str] = []
    original = argon2.PasswordHasher.verify

    def counting_verify(self: argon2.PasswordHasher, stored: str, password: str) -> bool:
        verified.append(stored)
        return original(self, stored, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting_verify)
    assert not await passwords.check(None, "anything")
    assert len(verified) == 1 and verified[0].startswith("$argon2id$")


def test_the_default_policy_is_owasps() -> None:
    stored = Passwords()._decoy
    assert "$m=19456,t=2,p=1$" in stored
    assert Passwords(FAST).needs_rehash(Passwords()._decoy) is True


def test_tokens_round_trip_and_know_their_kind() -> None:
    issuer = TokenIssuer(POLICY)
    tokens = issuer.issue(42)
    assert (tokens.token_type, tokens.expires_in) == ("bearer", 3600)
    assert issuer.user_of(tokens.access_token) == 42
    assert issuer.user_of(tokens.refresh_token, kind=REFRESH) == 42
    with pytest.raises(Unauthorized, match="not an access token"):
        issuer.user_of(tokens.refresh_token)
    with pytest.raises(Unauthorized, match="not an refresh token"):
        issuer.user_of(tokens.access_token, kind=REFRESH)


def test_expired_tokens_are_refused() -> None:
    past = TokenIssuer(POLICY, clock=lambda: time.time() - 2 * 3600)
    with pytest.raises(Unauthorized, match="expired"):
        TokenIssuer(POLICY).user_of(past.issue(1).access_token)


def claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "sub": "7",
        "iat": now,
        "exp": now + 60,
        "aud": "chirp-api",
        "iss": "chirp",
        "typ": ACCESS,
        "ctx": "chirp",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(claims(exp=None), POLICY.secret),
        jwt.encode(claims(iat=None), POLICY.secret),
        jwt.encode(claims(aud="someone-else"), POLICY.secret),
        jwt.encode(claims(iss="someone-else"), POLICY.secret),
        jwt.encode(claims(typ=None), POLICY.secret),
        jwt.encode(claims(ctx=None), POLICY.secret),
        jwt.encode(claims(ctx="an earlier store"), POLICY.secret),
        jwt.encode(claims(sub="²"), POLICY.secret),
        jwt.encode(claims(sub="not-a-number"), POLICY.secret),
        jwt.encode(claims(), "another secret of the same length!!"),
        jwt.encode(claims(), None, algorithm="none"),
        "not.a.token",
        "",
    ],
)
def test_forged_or_incomplete_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        TokenIssuer(POLICY).user_of(token)


def test_the_secret_never_shows_in_a_repr() -> None:
    assert POLICY.secret not in repr(POLICY)
