"""The actor carrying a `RelayedHub`'s messages between processes."""

from __future__ import annotations

from typing import Any

import trio

from actors import Actor
from chirp.services.stream_relay import ANNOUNCE_EVERY, SEND_BATCH, RelayedHub

RELAY = "stream.relay"


class StreamRelay(Actor):
    """Listens to the broadcast and applies what it hears to the hub, sends the hub's
    outbox, and announces this process's listeners on a beat. The hub and its outbox
    outlive it: a restarted relay greets the others and carries on."""

    def __init__(self, hub: RelayedHub) -> None:
        self._hub = hub

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        hub = self._hub
        async with hub.broadcast.listen() as messages, trio.open_nursery() as nursery:
            await hub.broadcast.send([["hello", hub.process], hub.announcement()])
            nursery.start_soon(self._send)
            nursery.start_soon(self._announce)
            task_status.started()
            async for batch in messages:
                now = trio.current_time()
                for message in batch:
                    hub.hear(message, now)

    async def _send(self) -> None:
        outbox = self._hub.outbox
        while True:
            batch = [await outbox.receive()]
            while len(batch) < SEND_BATCH:
                try:
                    batch.append(outbox.receive_nowait())
                except trio.WouldBlock:
                    break
            await self._hub.broadcast.send(batch)

    async def _announce(self) -> None:
        # Through the outbox, behind any join or leave already queued: sent on its own,
        # an older snapshot could land after a newer join and undo it elsewhere.
        while True:
            await trio.sleep(ANNOUNCE_EVERY)
            self._hub.forget_silent(trio.current_time())
            self._hub.announce()

    def describe(self) -> dict[str, Any]:
        return {"listeners": len(self._hub.listeners()), "dropped": self._hub.dropped}
