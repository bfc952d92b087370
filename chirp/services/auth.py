"""Authentication: argon2id password hashes and JWT access and refresh tokens."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import argon2
import jwt
import trio

from .errors import Unauthorized

ACCESS, REFRESH = "access", "refresh"


@dataclass(frozen=True)
class PasswordPolicy:
    """argon2id cost. The defaults are OWASP's (m = 19 MiB, t = 2, p = 1); tests and demos
    may lower them. ``concurrency`` bounds how many hashes run at once, each on a thread,
    so a burst of logins cannot take every core and all the memory."""

    memory_kib: int = 19 * 1024
    time_cost: int = 2
    parallelism: int = 1
    concurrency: int = 2


class Passwords:
    """Hashes and checks passwords off the event loop."""

    def __init__(self, policy: PasswordPolicy = PasswordPolicy()) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=policy.time_cost,
            memory_cost=policy.memory_kib,
            parallelism=policy.parallelism,
        )
        self._limiter = trio.CapacityLimiter(policy.concurrency)
        # Checked against when the user does not exist, so an unknown name costs the same
        # work as a wrong password and response times do not tell which it was.
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def check(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: no such user, still costs a check)."""
        return await trio.to_thread.run_sync(
            self._verify,
            stored or self._decoy,
            password,
            stored is not None,
            limiter=self._limiter,
        )

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

    def _verify(self, stored: str, password: str, real: bool) -> bool:
        try:
            return self._hasher.verify(stored, password) and real
        except (
            argon2.exceptions.VerificationError,
            argon2.exceptions.InvalidHashError,
            UnicodeError,  # a lone surrogate cannot be encoded, so it matches nothing
        ):
            return False


@dataclass(frozen=True)
class TokenPolicy:
    """``context`` names the user store the tokens speak for, carried as the ``ctx``
    claim: a token from another store (the embedded one of an earlier process, whose user
    ids now belong to other people) is refused even when the secret is the same."""

    secret: str
    context: str = "chirp"
    issuer: str = "chirp"
    audience: str = "chirp-api"
    access_ttl: int = 3600
    refresh_ttl: int = 30 * 24 * 3600
    algorithm: str = "HS256"

    def __repr__(self) -> str:
        return f"TokenPolicy(issuer={self.issuer!r}, audience={self.audience!r}, secret=***)"


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class TokenIssuer:
    """Signs and checks JWTs. Every token carries ``exp``, ``iat``, ``sub``, ``aud``,
    ``iss`` and its kind (``typ``), and all of them are required when checking, so a
    refresh token is never accepted where an access token is due, nor the other way."""

    def __init__(self, policy: TokenPolicy, *, clock: Callable[[], float] = time.time) -> None:
        self._policy = policy
        self._now = clock

    def issue(self, user_id: int) -> Tokens:
        return Tokens(
            access_token=self._sign(user_id, ACCESS, self._policy.access_ttl),
            refresh_token=self._sign(user_id, REFRESH, self._policy.refresh_ttl),
            expires_in=self._policy.access_ttl,
        )

    def user_of(self, token: str, *, kind: str = ACCESS) -> int:
        """The user id a valid token of ``kind`` speaks for. Raises `Unauthorized`."""
        policy = self._policy
        try:
            claims = jwt.decode(
                token,
                policy.secret,
                algorithms=[policy.algorithm],
                audience=policy.audience,
                issuer=policy.issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "typ", "ctx"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired; get a new one") from None
        except jwt.InvalidTokenError:
            raise Unauthorized("the token is not valid") from None
        if claims["ctx"] != policy.context:
            raise Unauthorized("the token is not valid here; sign in again")
        if claims["typ"] != kind:
            raise Unauthorized(f"this is not an {kind} token")
        subject = claims["sub"]
        if not (isinstance(subject, str) and subject.isascii() and subject.isdigit()):
            raise Unauthorized("the token is not valid")
        return int(subject)

    def _sign(self, user_id: int, kind: str, ttl: int) -> str:
        now = int(self._now())
        claims = {
            "sub": str(user_id),
            "iat": now,
            "exp": now + ttl,
            "aud": self._policy.audience,
            "iss": self._policy.issuer,
            "typ": kind,
            "ctx": self._policy.context,
            "jti": secrets.token_urlsafe(8),
        }
        return jwt.encode(claims, self._policy.secret, algorithm=self._policy.algorithm)
