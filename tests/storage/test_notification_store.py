"""The notification store's contract, on every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from chirp.model import Notification, NotificationPreferences
from storage.protocols import NotificationStore
from tests.backends import backends, opened
from tests.servers import Servers

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SNOWFLAKE = 1_900_000_000_000_000_000  # past 2**53, as real ids are


@pytest.fixture(params=backends("notifications"))
async def inboxes(
    request: pytest.FixtureRequest, servers: Servers
) -> AsyncIterator[NotificationStore]:
    async with opened("notifications", request.param, servers) as store:
        yield store


def told(n: int, user_id: int = 1, key: str | None = None) -> Notification:
    return Notification(SNOWFLAKE + n, user_id, "like", 2, 99, NOW, key or f"like:{n}")


async def test_an_event_notifies_once_and_inboxes_page_newest_first(
    inboxes: NotificationStore,
) -> None:
    first = [told(1), told(2), told(3, user_id=5)]
    assert await inboxes.add(first) == first
    assert await inboxes.add([told(1), told(4, key="like:2")]) == [], "keys seen already"
    assert await inboxes.add([told(4)]) == [told(4)]
    assert await inboxes.inbox(1, limit=10) == [told(4), told(2), told(1)]
    assert await inboxes.inbox(1, limit=2, max_id=SNOWFLAKE + 2) == [told(2), told(1)]
    assert await inboxes.inbox(5, limit=10) == [told(3, user_id=5)]
    assert await inboxes.inbox(6, limit=10) == []


async def test_the_read_mark_only_moves_forward(inboxes: NotificationStore) -> None:
    await inboxes.add([told(n) for n in range(1, 6)])
    assert (await inboxes.read_up_to(1), await inboxes.unread(1)) == (0, 5)
    await inboxes.mark_read(1, SNOWFLAKE + 3)
    await inboxes.mark_read(1, SNOWFLAKE + 2)
    assert (await inboxes.read_up_to(1), await inboxes.unread(1)) == (SNOWFLAKE + 3, 2)
    assert await inboxes.unread(7) == 0


async def test_inboxes_keep_their_newest_thousand(inboxes: NotificationStore) -> None:
    await inboxes.add([told(n) for n in range(1, 1006)])
    kept = await inboxes.inbox(1, limit=2000)
    assert len(kept) == 1000 and kept[-1] == told(6)
    assert await inboxes.add([told(1)]) == [told(1)], "a forgotten key may come back"


async def test_preferences_default_to_everything(inboxes: NotificationStore) -> None:
    assert await inboxes.preferences(1) == NotificationPreferences()
    chosen = NotificationPreferences(frozenset({"mention"}), only_following=True)
    await inboxes.set_preferences(1, chosen)
    assert await inboxes.preferences(1) == chosen
