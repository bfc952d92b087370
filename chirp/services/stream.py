"""Live events for connected clients (the SSE stream): per user, a bounded buffer each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

BUFFER = 64  # events a client may fall behind by before it is dropped


class Hub:
    """Publishes never wait: a client whose buffer is full is disconnected (it reconnects
    and reads what it missed from the API), so a slow reader can never stall the workers
    that publish."""

    def __init__(self, buffer: int = BUFFER) -> None:
        self._buffer = buffer
        self._subscribers: defaultdict[int, set[trio.MemorySendChannel[dict[str, Any]]]] = (
            defaultdict(set)
        )

    def listening(self, user_id: int) -> bool:
        return user_id in self._subscribers

    def listeners(self) -> list[int]:
        """Users with a stream open."""
        return list(self._subscribers)

    def publish(self, user_id: int, event: dict[str, Any]) -> None:
        for channel in list(self._subscribers.get(user_id, ())):
            try:
                channel.send_nowait(event)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self._drop(user_id, channel)

    @asynccontextmanager
    async def subscribe(
        self, user_id: int
    ) -> AsyncIterator[trio.MemoryReceiveChannel[dict[str, Any]]]:
        send, receive = trio.open_memory_channel[dict[str, Any]](self._buffer)
        self._subscribers[user_id].add(send)
        try:
            yield receive
        finally:
            self._drop(user_id, send)

    def _drop(self, user_id: int, channel: trio.MemorySendChannel[dict[str, Any]]) -> None:
        channel.close()
        held = self._subscribers.get(user_id)
        if held is not None:
            held.discard(channel)
            if not held:
                del self._subscribers[user_id]
