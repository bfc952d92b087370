"""Accounts in PostgreSQL (the seed's ``users`` table)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg
import trio_asyncio

from chirp.model import User
from storage.atomic import atomic
from storage.protocols import Duplicate

_COLUMNS = (
    "user_id, username, email, display_name, created_at, bio, profile_image_url, verified, region"
)

#: Which field a unique index guards (see migrations.py).
_UNIQUE_FIELD = {"users_username_key": "username", "users_email_key": "email"}


@atomic
class PostgresUserStore:
    """A `UserStore` on the ``users`` table: ids from an identity column (rising, with
    gaps where a create failed), usernames and emails unique through indexes on their
    ``lower()``.

    Each method is one statement run in one trip across the trio-asyncio bridge; trio
    cancellation cancels it on the server."""

    def __init__(self, pool: asyncpg.Pool, loop: trio_asyncio.TrioEventLoop) -> None:
        self._pool = pool
        self._loop = loop

    async def create(
        self,
        *,
        username: str,
        email: str,
        password_hash: str,
        display_name: str,
        created_at: datetime,
    ) -> User:
        try:
            row = await self._loop.run_aio_coroutine(
                self._pool.fetchrow(
                    f"""
                    INSERT INTO users (username, email, password_hash, display_name, created_at)
                    VALUES ($1, $2, $3, $4, $5)
                    RETURNING {_COLUMNS}
                    """,
                    username,
                    email,
                    password_hash,
                    display_name,
                    created_at,
                )
            )
        except asyncpg.UniqueViolationError as exc:
            field = _UNIQUE_FIELD.get(exc.constraint_name or "")
            if field is None:
                raise
            raise Duplicate(field) from None
        return _user(row)

    async def get(self, user_id: int) -> User | None:
        row = await self._loop.run_aio_coroutine(
            self._pool.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE user_id = $1", user_id)
        )
        return None if row is None else _user(row)

    async def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        wanted = list(user_ids)
        if not wanted:
            return {}
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(
                f"SELECT {_COLUMNS} FROM users WHERE user_id = ANY($1::bigint[])", wanted
            )
        )
        found = {row["user_id"]: _user(row) for row in rows}
        return {i: found[i] for i in wanted if i in found}

    async def find(self, username: str) -> User | None:
        row = await self._loop.run_aio_coroutine(
            self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE lower(username) = lower($1)", username
            )
        )
        return None if row is None else _user(row)

    async def password_hash(self, user_id: int) -> str | None:
        return await self._loop.run_aio_coroutine(
            self._pool.fetchval("SELECT password_hash FROM users WHERE user_id = $1", user_id)
        )

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._loop.run_aio_coroutine(
            self._pool.execute(
                "UPDATE users SET password_hash = $2 WHERE user_id = $1", user_id, password_hash
            )
        )

    async def delete(self, user_id: int) -> None:
        await self._loop.run_aio_coroutine(
            self._pool.execute("DELETE FROM users WHERE user_id = $1", user_id)
        )

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        profile_image_url: str | None = None,
        region: str | None = None,
    ) -> User:
        """As the protocol says; raises `KeyError` when there is no such user (as the
        memory store does)."""
        row = await self._loop.run_aio_coroutine(
            self._pool.fetchrow(
                f"""
                UPDATE users SET
                    display_name = COALESCE($2, display_name),
                    bio = COALESCE($3, bio),
                    profile_image_url = COALESCE($4, profile_image_url),
                    region = COALESCE($5, region)
                WHERE user_id = $1
                RETURNING {_COLUMNS}
                """,
                user_id,
                display_name,
                bio,
                profile_image_url,
                region,
            )
        )
        if row is None:
            raise KeyError(user_id)
        return _user(row)


def _user(row: Mapping[str, Any]) -> User:
    return User(
        user_id=row["user_id"],
        username=row["username"],
        email=row["email"],
        display_name=row["display_name"],
        created_at=row["created_at"],
        bio=row["bio"],
        profile_image_url=row["profile_image_url"],
        verified=row["verified"],
        region=row["region"],
    )
