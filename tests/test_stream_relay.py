"""The stream hub across processes: two hubs, each with its relay actor, over one
in-memory broadcast (what Redis pub/sub is to them) and under a mock clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgpack
import trio
import trio.testing

from actors import ActorSpec, ActorSystem, SupervisorSpec
from chirp.services.stream_relay import FORGET_AFTER, RelayedHub
from chirp.workers.stream_relay import StreamRelay


class MemoryBroadcast:
    """Pub/sub in memory: a message goes to every listener of the moment, serialised as
    it would be on the wire."""

    def __init__(self) -> None:
        self._listeners: set[trio.MemorySendChannel[Any]] = set()

    async def send(self, message: Any) -> None:
        wire = msgpack.packb(message)
        for listener in list(self._listeners):
            listener.send_nowait(msgpack.unpackb(wire))

    @asynccontextmanager
    async def listen(self) -> AsyncIterator[AsyncIterator[Any]]:
        send, receive = trio.open_memory_channel[Any](1000)
        self._listeners.add(send)
        try:
            yield receive
        finally:
            self._listeners.discard(send)


async def start(nursery: trio.Nursery, broadcast: MemoryBroadcast, name: str) -> ActorSystem:
    hub = RelayedHub(broadcast, name)  # type: ignore[arg-type]
    system = ActorSystem(SupervisorSpec("root", [ActorSpec("relay", lambda: StreamRelay(hub))]))
    system.hub = hub  # type: ignore[attr-defined]
    await nursery.start(system.run)
    return system


async def test_a_stream_in_one_process_hears_what_another_publishes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    broadcast = MemoryBroadcast()
    a, b = [await start(nursery, broadcast, name) for name in ("a", "b")]
    here, there = a.hub, b.hub  # type: ignore[attr-defined]
    there.publish(7, {"n": 0})  # nobody listens anywhere: goes nowhere
    async with here.subscribe(7) as stream:
        await trio.testing.wait_all_tasks_blocked()
        assert there.listening(7) and there.listeners() == [7]
        there.publish(7, {"n": 1})
        there.publish(8, {"n": 2})  # not listened to: never sent
        assert await stream.receive() == {"n": 1}
        here.publish(7, {"n": 3})  # its own: delivered here, once
        assert await stream.receive() == {"n": 3}
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):
            raise AssertionError(f"one more: {await stream.receive()}")
    await trio.testing.wait_all_tasks_blocked()
    assert not there.listening(7), "the last stream's end is announced"


async def test_a_process_started_later_learns_who_listens_and_a_silent_one_is_forgotten(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    broadcast = MemoryBroadcast()
    first = await start(nursery, broadcast, "first")
    async with first.hub.subscribe(5):  # type: ignore[attr-defined]
        later = await start(nursery, broadcast, "later")
        await trio.testing.wait_all_tasks_blocked()
        assert later.hub.listening(5), "answered its hello"  # type: ignore[attr-defined]
        first.kill("relay")  # silent from now on (until it restarts)
        first.hub.broadcast = MemoryBroadcast()  # type: ignore[attr-defined]
        await trio.sleep(FORGET_AFTER + 10)
        assert not later.hub.listening(5), "forgotten once silent"  # type: ignore[attr-defined]
