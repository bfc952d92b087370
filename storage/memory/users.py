"""Accounts, in this process."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, ClassVar

from chirp.model import User
from storage.protocols import Duplicate
from storage.timing import timed


@timed
class MemoryUserStore:
    """A `UserStore` in dicts: ids count up from 1, as a database sequence does."""

    #: The calls that change the store, which the durable mode journals (storage.durable).
    MUTATIONS: ClassVar[tuple[str, ...]] = (
        "create",
        "delete",
        "set_password_hash",
        "update_profile",
    )

    def __init__(self) -> None:
        self._users: dict[int, User] = {}
        self._hashes: dict[int, str] = {}
        self._by_username: dict[str, int] = {}
        self._by_email: dict[str, int] = {}
        self._next_id = 1

    async def create(
        self,
        *,
        username: str,
        email: str,
        password_hash: str,
        display_name: str,
        created_at: datetime,
    ) -> User:
        name_key, email_key = username.casefold(), email.casefold()
        if name_key in self._by_username:
            raise Duplicate("username")
        if email_key in self._by_email:
            raise Duplicate("email")
        user = User(self._next_id, username, email, display_name, created_at)
        self._next_id += 1
        self._users[user.user_id] = user
        self._hashes[user.user_id] = password_hash
        self._by_username[name_key] = user.user_id
        self._by_email[email_key] = user.user_id
        return user

    async def get(self, user_id: int) -> User | None:
        return self._users.get(user_id)

    async def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        users = self._users
        return {i: users[i] for i in user_ids if i in users}

    async def find(self, username: str) -> User | None:
        user_id = self._by_username.get(username.casefold())
        return None if user_id is None else self._users[user_id]

    async def password_hash(self, user_id: int) -> str | None:
        return self._hashes.get(user_id)

    async def delete(self, user_id: int) -> None:
        user = self._users.pop(user_id, None)
        if user is not None:
            del self._hashes[user_id]
            del self._by_username[user.username.casefold()]
            del self._by_email[user.email.casefold()]

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        if user_id in self._hashes:
            self._hashes[user_id] = password_hash

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        profile_image_url: str | None = None,
        region: str | None = None,
    ) -> User:
        changes = {
            name: value
            for name, value in (
                ("display_name", display_name),
                ("bio", bio),
                ("profile_image_url", profile_image_url),
                ("region", region),
            )
            if value is not None
        }
        user = replace(self._users[user_id], **changes)
        self._users[user_id] = user
        return user

    def snapshot_state(self) -> dict[str, Any]:
        """What the store holds, in containers of its own (the records are immutable);
        `restore_state` rebuilds the indexes from it."""
        return {
            "users": list(self._users.values()),
            "hashes": dict(self._hashes),
            "next_id": self._next_id,
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this store, which holds nothing yet."""
        for user in state["users"]:
            self._users[user.user_id] = user
            self._by_username[user.username.casefold()] = user.user_id
            self._by_email[user.email.casefold()] = user.user_id
        self._hashes.update(state["hashes"])
        self._next_id = state["next_id"]
