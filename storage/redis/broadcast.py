"""A `Broadcast` on Redis pub/sub: one channel, msgpack messages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import coredis
import msgpack

from storage.atomic import atomic


@atomic  # a publish cut short would leave the shared connection to the next caller
class RedisBroadcast:
    """Every process subscribes to ``channel``; a message published is heard by those
    subscribed at that moment (pub/sub keeps nothing)."""

    def __init__(self, client: coredis.Redis, channel: str) -> None:
        self._client = client
        self._channel = channel

    async def send(self, message: Any) -> None:
        await self._client.publish(self._channel, msgpack.packb(message))

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[Any]]:
        async with self._client.pubsub(
            channels=[self._channel], ignore_subscribe_messages=True
        ) as subscription:
            yield self._messages(subscription)

    @staticmethod
    async def _messages(subscription: Any) -> AsyncIterator[Any]:
        async for message in subscription:
            if message["type"] == "message":
                yield msgpack.unpackb(message["data"])
