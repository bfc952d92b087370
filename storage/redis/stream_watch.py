"""The watcher that wakes the log's group members waiting for streams to grow."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import trio
from coredis.tokens import PureToken

from actors import Actor

from .client import REPLY_TIMEOUT
from .stream_entries import _offset

#: How long the watcher's XREAD waits before it reads again (below the reply timeout).
WATCH_BLOCK_MS = int(REPLY_TIMEOUT * 1000 / 2)


class _Watch:
    """Wakes tasks waiting for streams to grow, for the whole process, with one blocking
    XREAD at a time. (A blocking read per waiting member would hold a connection each: a
    chirp process runs some eighty consumers, and coredis's pool holds 64.)

    The XREAD also watches the process's doorbell stream: a waiter on a stream the read in
    flight does not cover rings it (XADD), which ends the read at once, whenever the ring
    lands, so no wake-up is lost. Appends made by this process wake waiters directly.
    """

    def __init__(self, client: Any, doorbell: str, known_ends: dict[str, int]) -> None:
        self._client = client
        self._doorbell = doorbell
        self._known = known_ends  # the log's highest end seen per stream
        self._waiters: dict[str, dict[trio.Event, int]] = {}
        self._watching: dict[str, int] | None = None  # what the XREAD in flight covers
        self._rung = False
        self._wanted = trio.Event()
        self._bell = b"0-0"
        #: Whether `run` runs (in the log's tree): only then may anyone wait through it.
        self.running = False

    def add(self, event: trio.Event, ends: Mapping[str, int]) -> bool:
        """Set ``event`` once a stream in ``ends`` grows past the end given for it. True
        when the caller must `ring`, the XREAD in flight not covering them."""
        if any(self._known.get(key, 0) > end for key, end in ends.items()):
            event.set()
            return False
        for key, end in ends.items():
            self._waiters.setdefault(key, {})[event] = end
        watching = self._watching
        if watching is None:
            self._wanted.set()
            return False
        if self._rung or all(watching.get(key, math.inf) <= end for key, end in ends.items()):
            return False
        self._rung = True
        return True

    def discard(self, event: trio.Event, ends: Mapping[str, int]) -> None:
        for key in ends:
            waiting = self._waiters.get(key)
            if waiting is not None:
                waiting.pop(event, None)
                if not waiting:
                    del self._waiters[key]

    def appended(self, key: str, end: int) -> None:
        """``key`` has grown to ``end`` at least."""
        if end > self._known.get(key, 0):
            self._known[key] = end
        for event, known in self._waiters.get(key, {}).items():
            if known < end:
                event.set()

    async def ring(self) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xadd(
                self._doorbell,
                {"r": "1"},
                trim_strategy=PureToken.MAXLEN,
                threshold=1,
            )
            pipe.pexpire(self._doorbell, 24 * 3600 * 1000)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.running = True
        try:
            await self._run(task_status)
        finally:
            self.running = False

    async def _run(self, task_status: trio.TaskStatus[None]) -> None:
        task_status.started()
        while True:
            if not self._waiters:
                self._wanted = trio.Event()
                await self._wanted.wait()
                continue
            watching = {key: min(waiting.values()) for key, waiting in self._waiters.items()}
            streams: dict[str, Any] = {key: f"0-{end}" for key, end in watching.items()}
            streams[self._doorbell] = self._bell
            self._watching, self._rung = watching, False
            try:
                # Within the client's reply timeout, which would end the read by force.
                answer = await self._client.xread(streams, count=1, block=WATCH_BLOCK_MS)
            finally:
                self._watching = None
            for key, entries in (answer or {}).items():
                name = key.decode()
                if name == self._doorbell:
                    self._bell = entries[-1].identifier
                elif entries:
                    self.appended(name, _offset(entries[-1].identifier) + 1)


class _Watcher(Actor):
    """The actor running the log's `_Watch`: restarted, it watches what is waited for."""

    def __init__(self, watch: _Watch) -> None:
        self._watch = watch

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await self._watch.run(task_status=task_status)
