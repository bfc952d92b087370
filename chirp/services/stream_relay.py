"""The stream hub across processes: a stream open in one process hears what any process
publishes to its user.

Each process tells the others whom it has streams open for (on the first stream of a
user, on the last one's end, and in full every `ANNOUNCE_EVERY` seconds, which also
covers processes that started since or missed a message), so a publish crosses over only
for users listening elsewhere. A process not heard from for `FORGET_AFTER` seconds is
forgotten. Like the local hub, this is at most once: a client that misses an event
reads it from the API."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from storage.protocols import Broadcast

from .stream import BUFFER, Hub

ANNOUNCE_EVERY = 5.0
FORGET_AFTER = 3 * ANNOUNCE_EVERY
#: Messages waiting to be sent; past this (a broadcast backend that stalls) they are
#: dropped and counted, never waited for: publishers are the workers.
OUTBOX = 10_000
SEND_BATCH = 200  # messages to one broadcast at most


class RelayedHub(Hub):
    """A `Hub` for one process of several: `listening` and `listeners` cover every
    process's streams, and `publish` reaches them wherever they are. `StreamRelay`
    (chirp.workers.stream_relay) carries the messages."""

    def __init__(self, broadcast: Broadcast, process: str, buffer: int = BUFFER) -> None:
        super().__init__(buffer)
        self.broadcast = broadcast
        self.process = process
        self._heard: dict[str, tuple[set[int], float]] = {}  # process -> (users, when)
        self._elsewhere: Counter[int] = Counter()  # user -> processes listening to them
        self._send, self.outbox = trio.open_memory_channel[Any](OUTBOX)
        self.dropped = 0

    # -- what the services call ----------------------------------------------------------

    def listening(self, user_id: int) -> bool:
        return user_id in self._elsewhere or super().listening(user_id)

    def listeners(self) -> list[int]:
        return list(self._elsewhere.keys() | set(super().listeners()))

    def publish(self, user_id: int, event: dict[str, Any]) -> None:
        super().publish(user_id, event)
        if user_id in self._elsewhere:
            self._post(["event", self.process, user_id, event])

    @asynccontextmanager
    async def subscribe(
        self, user_id: int
    ) -> AsyncIterator[trio.MemoryReceiveChannel[dict[str, Any]]]:
        first = not super().listening(user_id)
        try:
            async with super().subscribe(user_id) as received:
                if first:
                    self._post(["join", self.process, user_id])
                yield received
        finally:
            if not super().listening(user_id):
                self._post(["leave", self.process, user_id])

    # -- what the relay calls ------------------------------------------------------------

    def announcement(self) -> list[Any]:
        return ["listening", self.process, super().listeners()]

    def announce(self) -> None:
        self._post(self.announcement())

    def hear(self, message: list[Any], now: float) -> None:
        """Apply a message from the broadcast (this process's own come back: skipped)."""
        kind, origin = message[0], message[1]
        if origin == self.process:
            return
        if kind == "event":
            super().publish(message[2], message[3])
            return
        users, _ = self._heard.get(origin, (set(), now))
        if kind == "join":
            self._replace(origin, users | {message[2]}, now)
        elif kind == "leave":
            self._replace(origin, users - {message[2]}, now)
        elif kind == "listening":
            self._replace(origin, set(message[2]), now)
        elif kind == "hello":  # a process just started: tell it at once
            self._replace(origin, users, now)
            self.announce()

    def forget_silent(self, now: float) -> None:
        for origin, (_, when) in list(self._heard.items()):
            if now - when > FORGET_AFTER:
                self._replace(origin, set(), now)
                del self._heard[origin]

    def _replace(self, origin: str, users: set[int], now: float) -> None:
        before, _ = self._heard.get(origin, (set(), now))
        self._elsewhere.update(users - before)
        self._elsewhere.subtract(before - users)
        for user in before - users:
            if self._elsewhere[user] <= 0:
                del self._elsewhere[user]
        self._heard[origin] = (users, now)

    def _post(self, message: list[Any]) -> None:
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            self.dropped += 1
