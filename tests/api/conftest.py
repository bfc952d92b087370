from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
import trio

from chirp.config import Settings
from chirp.server import Chirp, assemble
from chirp.services.users import utc_now

ADMIN_TOKEN = "test-admin-token-0123456789"
SMALL_TOPICS = {
    "tweet_created": 4,
    "tweet_deleted": 2,
    "like_added": 2,
    "retweet_created": 2,
    "tweet_edited": 2,
    "like_removed": 2,
    "user_followed": 2,
    "user_unfollowed": 2,
    "user_changed": 2,
}


def fast_settings(**overrides: Any) -> Settings:
    """Settings for tests: small topics, and cheap password hashes (the tests make many
    accounts; the real cost is tested on its own)."""
    base: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN,
        "partitions": SMALL_TOPICS,
        "password_memory_kib": 64,
        "password_time_cost": 1,
    }
    return Settings(**(base | overrides))


async def running(
    nursery: trio.Nursery, *, now: Callable[[], datetime] = utc_now, **overrides: Any
) -> Chirp:
    """chirp assembled from `fast_settings`, its tree running in ``nursery``; requests go
    through ``chirp.app.test_client()`` (the real app, without sockets). ``now`` is the
    services' clock."""
    assembled = assemble(fast_settings(**overrides), now=now)
    await nursery.start(assembled.system.run)
    return assembled


@pytest.fixture
async def chirp(nursery: trio.Nursery) -> Chirp:
    return await running(nursery)


def admin(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(chirp: Chirp, username: str, **fields: str) -> tuple[int, dict[str, str]]:
    """A new account: its user id and the headers that act as it."""
    body = {
        "username": username,
        "email": f"{username}@example.org",
        "password": "correct horse battery",
        **fields,
    }
    response = await chirp.app.test_client().post("/api/v1/users", json=body)
    assert response.status_code == 201, await response.get_data()
    created = await response.get_json()
    return created["user"]["user_id"], {"Authorization": f"Bearer {created['access_token']}"}
