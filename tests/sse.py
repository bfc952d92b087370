"""``/api/v1/stream`` read as it arrives, by a plain HTTP/1.1 client on a loopback socket
(an HTTP library would buffer what a stream test must see at once)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class EventStream:
    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self.received = b""  # everything so far, the response's head included

    async def until(self, *wanted: bytes) -> None:
        """Read on until everything ``wanted`` has arrived."""
        while not all(w in self.received for w in wanted):
            self.received += await self._stream.receive_some()


@asynccontextmanager
async def event_stream(host: str, port: int, authorization: str) -> AsyncIterator[EventStream]:
    """The stream, once the server says it is connected (nothing after is missed)."""
    stream = await trio.open_tcp_stream(host, port)
    async with stream:
        await stream.send_all(
            b"GET /api/v1/stream HTTP/1.1\r\nHost: chirp\r\n"
            + f"Authorization: {authorization}\r\n\r\n".encode()
        )
        events = EventStream(stream)
        await events.until(b": connected")
        yield events
