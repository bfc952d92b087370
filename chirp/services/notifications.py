"""Notifications: who is told what, their inboxes, preferences and the live stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from chirp.ids import SnowflakeGenerator
from chirp.model import Notification, NotificationPreferences
from storage.protocols import GraphStore, NotificationStore, Record, TweetStore, UserStore

from .errors import RuleBroken
from .stream import Hub

#: The topics the notify group consumes.
NOTIFY_TOPICS = ("tweet_created", "retweet_created", "like_added", "user_followed")
KINDS = frozenset({"mention", "reply", "like", "retweet", "follow"})
GROUP_SCAN = 5  # a page reads up to this many notifications per item it shows


@dataclass(frozen=True)
class Item:
    """One line of the list: a notification, or several likes of one tweet grouped."""

    first: Notification  # the newest of the group
    count: int
    group_key: str
    read: bool


class NotificationService:
    def __init__(
        self,
        *,
        store: NotificationStore,
        users: UserStore,
        tweets: TweetStore,
        graph: GraphStore,
        ids: SnowflakeGenerator,
        hub: Hub,
    ) -> None:
        self._store = store
        self._users = users
        self._tweets = tweets
        self._graph = graph
        self._ids = ids
        self.hub = hub

    async def deliver(self, records: Sequence[Record]) -> None:
        """The notify group's handler: derive, filter by preferences, store, and tell the
        connected. Idempotent: each notification is keyed by its event and recipient."""
        derived = [n for r in records for n in await self._derive(r)]
        wanted = [n for n in derived if await self._wanted(n)]
        # Ids are taken only now, with no wait before the store has them: an id below a
        # read mark already set would count as read before anyone saw it.
        numbered = [replace(n, notification_id=self._ids.next_id()) for n in wanted]
        added = await self._store.add(numbered)
        for notification in added:
            self.hub.publish(
                notification.user_id,
                {
                    "type": "notification",
                    "kind": notification.kind,
                    # Strings, as everywhere in the API: 63-bit ids do not fit a JS number.
                    "notification_id": str(notification.notification_id),
                    "actor_id": notification.actor_id,
                    "tweet_id": None
                    if notification.tweet_id is None
                    else str(notification.tweet_id),
                },
            )

    async def page(
        self, user_id: int, *, limit: int, max_id: int | None
    ) -> tuple[list[Item], int, int | None]:
        """Up to ``limit`` items, newest first, likes of one tweet grouped; the unread
        count; the cursor of the next page."""
        window = limit * GROUP_SCAN + 1
        raw = await self._store.inbox(user_id, limit=window, max_id=max_id)
        read_up_to = await self._store.read_up_to(user_id)
        items: list[Item] = []
        index: dict[str, int] = {}
        consumed = 0
        for notification in raw:
            key = (
                f"like:{notification.tweet_id}"
                if notification.kind == "like"
                else f"{notification.kind}:{notification.notification_id}"
            )
            if key in index:
                held = items[index[key]]
                items[index[key]] = Item(
                    held.first,
                    held.count + 1,
                    key,
                    held.read and notification.notification_id <= read_up_to,
                )
            elif len(items) == limit:
                break
            else:
                index[key] = len(items)
                items.append(Item(notification, 1, key, notification.notification_id <= read_up_to))
            consumed += 1
        # More when the page stopped early or the window it read was full (there may be
        # older ones past it: the group cut there continues on the next page).
        more = consumed < len(raw) or len(raw) == window
        cursor = raw[consumed - 1].notification_id - 1 if more and consumed else None
        return items, await self._store.unread(user_id), cursor

    async def mark_read(self, user_id: int, up_to_id: int) -> int:
        """Up to ``up_to_id``, but never past the newest notification there is: a mark
        set ahead would swallow notifications not yet made."""
        newest = await self._store.inbox(user_id, limit=1)
        if newest:
            await self._store.mark_read(user_id, min(up_to_id, newest[0].notification_id))
        return await self._store.unread(user_id)

    async def preferences(self, user_id: int) -> NotificationPreferences:
        return await self._store.preferences(user_id)

    async def set_preferences(
        self, user_id: int, *, kinds: Sequence[str] | None, only_following: bool | None
    ) -> NotificationPreferences:
        current = await self._store.preferences(user_id)
        if kinds is not None and not set(kinds) <= KINDS:
            raise RuleBroken(f"kinds are among {', '.join(sorted(KINDS))}")
        changed = NotificationPreferences(
            frozenset(kinds) if kinds is not None else current.kinds,
            current.only_following if only_following is None else only_following,
        )
        await self._store.set_preferences(user_id, changed)
        return changed

    async def _derive(self, record: Record) -> list[Notification]:
        event = record.value
        told: list[tuple[int, str, int | None]] = []  # (recipient, kind, tweet)
        if record.topic == "tweet_created":
            actor = event["user_id"]
            for name in event["mentions"]:
                user = await self._users.find(name)
                if user is not None:
                    told.append((user.user_id, "mention", event["tweet_id"]))
            if event.get("reply_to") is not None:
                parent = await self._tweets.get(event["reply_to"])
                if parent is not None:
                    told.append((parent.user_id, "reply", event["tweet_id"]))
        elif record.topic == "retweet_created":
            actor = event["user_id"]
            original = await self._tweets.get(event["retweet_of"])
            if original is not None:
                told.append((original.user_id, "retweet", original.tweet_id))
        elif record.topic == "like_added":
            actor = event["user_id"]
            liked = await self._tweets.get(event["tweet_id"])
            if liked is not None:
                told.append((liked.user_id, "like", liked.tweet_id))
        else:  # user_followed
            actor = event["follower_id"]
            told.append((event["followee_id"], "follow", None))
        at = datetime.fromtimestamp(record.timestamp, UTC)
        origin = f"{record.topic}:{record.partition}:{record.offset}"
        return [
            Notification(0, user, kind, actor, tweet, at, f"{origin}:{kind}")
            for user, kind, tweet in told
            if user != actor  # self-actions notify nobody
        ]

    async def _wanted(self, notification: Notification) -> bool:
        """The seed's "filter by preferences" step."""
        preferences = await self._store.preferences(notification.user_id)
        if notification.kind not in preferences.kinds:
            return False
        return not preferences.only_following or await self._graph.is_following(
            notification.user_id, notification.actor_id
        )
