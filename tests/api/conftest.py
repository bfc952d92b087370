from __future__ import annotations

import pytest
import trio

from chirp.config import Settings
from chirp.server import Chirp, assemble

ADMIN_TOKEN = "test-admin-token-0123456789"
SMALL_TOPICS = {"tweet_created": 4, "tweet_deleted": 2, "like_added": 2, "retweet_created": 2}


@pytest.fixture
async def chirp(nursery: trio.Nursery) -> Chirp:
    """chirp assembled with small topics, its tree running in the test's nursery; requests
    go through ``chirp.app.test_client()`` (the real app, without sockets)."""
    assembled = assemble(Settings(admin_token=ADMIN_TOKEN, partitions=SMALL_TOPICS))
    await nursery.start(assembled.system.run)
    return assembled


def admin(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
