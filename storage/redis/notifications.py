"""Notification inboxes on Redis."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import coredis

from chirp.model import Notification, NotificationPreferences
from storage.atomic import atomic

from . import lua
from .codec import decode_notification, decode_preferences, encode_notification, encode_preferences
from .scripts import Script, reloading

INBOX = 1000  # notifications kept per user; the oldest go first


def padded(notification_id: int) -> str:
    """Ids as fixed-width text: a sorted set orders them by lex, exactly, where its
    double scores would blur Snowflakes past 2**53."""
    return f"{notification_id:020d}"


@atomic
class RedisNotificationStore:
    """A `NotificationStore` on Redis. A user's keys share their id as hash tag (one
    cluster slot): ``inbox:{7}`` (ids), ``notif:{7}`` (id → notification),
    ``notif_keys:{7}`` (event key ↔ id, so a redelivered event notifies once),
    ``notif_read:{7}`` (the read mark) and ``notif_prefs:{7}``."""

    def __init__(self, client: coredis.Redis, *, prefix: str = "", capacity: int = INBOX):
        self._client = client
        self._prefix = prefix
        self._capacity = str(capacity)
        self._notify = Script(client, lua.NOTIFY)
        self._inbox = Script(client, lua.INBOX)
        self._mark = Script(client, lua.MARK_READ)

    def _key(self, kind: str, user_id: int) -> str:
        return f"{self._prefix}{kind}:{{{user_id}}}"

    def _inbox_keys(self, user_id: int) -> list[str]:
        return [self._key(k, user_id) for k in ("inbox", "notif", "notif_keys")]

    async def add(self, notifications: Iterable[Notification]) -> list[Notification]:
        by_user: defaultdict[int, list[Notification]] = defaultdict(list)
        for notification in notifications:
            by_user[notification.user_id].append(notification)
        if not by_user:
            return []
        calls = []
        for user_id, held in by_user.items():
            args: list[str | bytes] = [self._capacity]
            for n in held:
                args += [padded(n.notification_id), n.key, encode_notification(n)]
            calls.append((self._inbox_keys(user_id), args))

        async def attempt() -> list[Any]:
            # Idempotent, so safe to send again: a key already held is skipped.
            async with self._client.pipeline(transaction=False) as pipeline:
                handles = [self._notify.queue(pipeline, keys, args) for keys, args in calls]
            return [await handle for handle in handles]

        answers = await reloading([self._notify], attempt)
        added = []
        for held, indexes in zip(by_user.values(), answers, strict=True):
            added += [held[int(i)] for i in indexes]
        return added

    async def inbox(
        self, user_id: int, *, limit: int, max_id: int | None = None
    ) -> list[Notification]:
        if limit <= 0:
            return []
        bound = "+" if max_id is None else f"[{padded(max_id)}"
        keys = self._inbox_keys(user_id)
        payloads = await self._inbox(keys=keys[:2], args=[str(limit), bound])
        return [decode_notification(p) for p in payloads if p is not None]

    async def mark_read(self, user_id: int, up_to_id: int) -> None:
        await self._mark(keys=[self._key("notif_read", user_id)], args=[padded(up_to_id)])

    async def read_up_to(self, user_id: int) -> int:
        held = await self._client.get(self._key("notif_read", user_id))
        return 0 if held is None else int(held)

    async def unread(self, user_id: int) -> int:
        read = await self.read_up_to(user_id)
        return await self._client.zlexcount(self._key("inbox", user_id), f"({padded(read)}", "+")

    async def preferences(self, user_id: int) -> NotificationPreferences:
        held = await self._client.get(self._key("notif_prefs", user_id))
        return NotificationPreferences() if held is None else decode_preferences(held)

    async def set_preferences(self, user_id: int, preferences: NotificationPreferences) -> None:
        await self._client.set(self._key("notif_prefs", user_id), encode_preferences(preferences))
