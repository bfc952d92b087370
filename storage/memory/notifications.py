"""Notification inboxes, in this process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

from sortedcontainers import SortedDict

from chirp.model import Notification, NotificationPreferences
from storage.timing import timed

INBOX = 1000  # notifications kept per user; the oldest go first


@timed
class MemoryNotificationStore:
    """A `NotificationStore`: per user, notifications by id and the keys they came from."""

    #: The calls that change the store, which the durable mode journals (storage.durable).
    MUTATIONS: ClassVar[tuple[str, ...]] = ("add", "mark_read", "set_preferences")

    def __init__(self) -> None:
        self._inboxes: defaultdict[int, SortedDict] = defaultdict(SortedDict)
        self._keys: defaultdict[int, set[str]] = defaultdict(set)
        self._read: dict[int, int] = {}
        self._preferences: dict[int, NotificationPreferences] = {}

    async def add(self, notifications: Iterable[Notification]) -> list[Notification]:
        added = []
        for notification in notifications:
            user_id = notification.user_id
            keys, inbox = self._keys[user_id], self._inboxes[user_id]
            if notification.key in keys:
                continue
            keys.add(notification.key)
            inbox[notification.notification_id] = notification
            added.append(notification)
            while len(inbox) > INBOX:
                _, oldest = inbox.popitem(0)
                keys.discard(oldest.key)
        return added

    async def inbox(
        self, user_id: int, *, limit: int, max_id: int | None = None
    ) -> list[Notification]:
        inbox = self._inboxes.get(user_id)
        if not inbox:
            return []
        ids = inbox.irange(maximum=max_id, reverse=True)
        return [inbox[i] for _, i in zip(range(limit), ids, strict=False)]

    async def mark_read(self, user_id: int, up_to_id: int) -> None:
        self._read[user_id] = max(self._read.get(user_id, 0), up_to_id)

    async def read_up_to(self, user_id: int) -> int:
        return self._read.get(user_id, 0)

    async def unread(self, user_id: int) -> int:
        inbox = self._inboxes.get(user_id)
        if not inbox:
            return 0
        return len(inbox) - inbox.bisect_right(self._read.get(user_id, 0))

    async def preferences(self, user_id: int) -> NotificationPreferences:
        return self._preferences.get(user_id, NotificationPreferences())

    async def set_preferences(self, user_id: int, preferences: NotificationPreferences) -> None:
        self._preferences[user_id] = preferences

    def newest_id(self) -> int:
        """The highest notification id held (0 for none)."""
        return max((inbox.peekitem(-1)[0] for inbox in self._inboxes.values() if inbox), default=0)

    def snapshot_state(self) -> dict[str, Any]:
        """Inboxes, read marks and preferences, in containers of its own (the records are
        immutable); the keys are rebuilt from the inboxes (`restore_state`)."""
        return {
            "inboxes": {u: list(inbox.values()) for u, inbox in self._inboxes.items()},
            "read": dict(self._read),
            "preferences": dict(self._preferences),
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this store, which holds nothing yet."""
        for user_id, notifications in state["inboxes"].items():
            self._inboxes[user_id] = SortedDict((n.notification_id, n) for n in notifications)
            self._keys[user_id] = {n.key for n in notifications}
        self._read.update(state["read"])
        self._preferences.update(state["preferences"])
