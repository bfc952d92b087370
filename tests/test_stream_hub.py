"""The live-stream hub: publishing never waits, and a client that falls behind is dropped."""

from __future__ import annotations

import trio

from chirp.services.stream import Hub


async def test_a_slow_client_is_dropped_and_never_stalls_the_publisher() -> None:
    hub = Hub(buffer=3)
    async with hub.subscribe(7) as slow, hub.subscribe(7) as keeping_up:
        for n in range(3):
            hub.publish(7, {"n": n})
        assert [(await keeping_up.receive())["n"] for _ in range(3)] == [0, 1, 2]
        hub.publish(7, {"n": 3})  # the slow one's buffer is full: it is dropped
        assert [(await slow.receive())["n"] for _ in range(3)] == [0, 1, 2]
        try:
            await slow.receive()
        except trio.EndOfChannel:
            pass
        else:
            raise AssertionError("a dropped client's stream ends")
        assert (await keeping_up.receive())["n"] == 3
        assert hub.listening(7)
    assert not hub.listening(7) and hub.listeners() == []


async def test_events_go_only_to_their_user() -> None:
    hub = Hub()
    async with hub.subscribe(1) as mine:
        hub.publish(2, {"for": 2})
        hub.publish(1, {"for": 1})
        assert await mine.receive() == {"for": 1}
