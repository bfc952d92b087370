"""Notifications, their preferences, and the live stream (server-sent events)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import trio
from quart import Blueprint, Response

from chirp import ids
from chirp.services.notifications import Item, NotificationService
from chirp.services.users import UserService

from . import paging
from .bodies import Invalid, StrictModel, json_body
from .identity import current_user, own_reader
from .views import timestamp

KEEP_ALIVE = 15.0  # seconds between comments on an idle stream, so proxies keep it open


class ReadMark(StrictModel):
    up_to_id: str


class PreferenceChanges(StrictModel):
    kinds: list[str] | None = None
    only_following: bool | None = None


def notifications_routes(notifications: NotificationService, users: UserService) -> Blueprint:
    routes = Blueprint("notifications", __name__, url_prefix="/api/v1")

    @routes.get("/notifications")
    async def inbox() -> dict[str, Any]:
        user_id = await own_reader(users, "notifications")
        items, unread, cursor = await notifications.page(
            user_id, limit=paging.limit(), max_id=paging.cursor()
        )
        actors = await users.views(list({item.first.actor_id for item in items}))
        by_id = {view.user.user_id: view.user for view in actors}
        return {
            "notifications": [_item_json(item, by_id) for item in items],
            "unread_count": unread,
            "next_cursor": paging.next_cursor(cursor),
        }

    @routes.post("/notifications/read")
    async def mark_read() -> dict[str, Any]:
        user_id = await current_user(users)
        body = await json_body(ReadMark)
        try:
            up_to = ids.parse(body.up_to_id)
        except ValueError:
            raise Invalid("up_to_id: not a notification id") from None
        return {"unread_count": await notifications.mark_read(user_id, up_to)}

    @routes.get("/users/me/notification_preferences")
    async def preferences() -> dict[str, Any]:
        return _preferences_json(await notifications.preferences(await current_user(users)))

    @routes.patch("/users/me/notification_preferences")
    async def change_preferences() -> dict[str, Any]:
        user_id = await current_user(users)
        body = await json_body(PreferenceChanges)
        changed = await notifications.set_preferences(
            user_id, kinds=body.kinds, only_following=body.only_following
        )
        return _preferences_json(changed)

    @routes.get("/stream")
    async def stream() -> Response:
        """The caller's new notifications and feed entries as they happen. A client that
        falls too far behind is disconnected (it reconnects and reads the API)."""
        user_id = await own_reader(users, "stream")

        async def events() -> AsyncIterator[bytes]:
            async with notifications.hub.subscribe(user_id) as received:
                yield b": connected\n\n"  # once subscribed: nothing after this is missed
                while True:
                    event = None
                    # No yield inside the cancel scope: a generator suspended in one
                    # would leave it open around whatever the consumer does meanwhile.
                    with trio.move_on_after(KEEP_ALIVE):
                        try:
                            event = await received.receive()
                        except trio.EndOfChannel:
                            return  # dropped for falling behind
                    if event is None:
                        yield b": keep-alive\n\n"
                    else:
                        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

        response = Response(events(), mimetype="text/event-stream")
        response.headers["Cache-Control"] = "no-cache"
        response.timeout = None  # a stream has no end to wait for
        return response

    return routes


def _item_json(item: Item, actors: dict[int, Any]) -> dict[str, Any]:
    first = item.first
    actor = actors.get(first.actor_id)
    return {
        "notification_id": str(first.notification_id),
        "type": first.kind,
        "actor": None
        if actor is None
        else {
            "user_id": actor.user_id,
            "username": actor.username,
            "display_name": actor.display_name,
        },
        "tweet_id": None if first.tweet_id is None else str(first.tweet_id),
        "created_at": timestamp(first.created_at),
        "read": item.read,
        "group_key": item.group_key,
        "count": item.count,
    }


def _preferences_json(preferences: Any) -> dict[str, Any]:
    return {"kinds": sorted(preferences.kinds), "only_following": preferences.only_following}
