from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import trio

from actors import ActorSystem, SupervisorSpec
from storage.memory import MemoryEventLog


class WallClock:
    """A wall clock the test moves by hand (the log's record timestamps)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


StartLog = Callable[..., Any]


@pytest.fixture
def start_memory_log(nursery: trio.Nursery) -> StartLog:
    """Start a `MemoryEventLog` (and its actors) in the test's nursery."""

    async def start(
        topics: Mapping[str, int], *extra: SupervisorSpec, **options: Any
    ) -> tuple[MemoryEventLog, ActorSystem]:
        log = MemoryEventLog(topics, **options)
        system = ActorSystem(SupervisorSpec("root", [log.supervisor_spec(), *extra]))
        log.attach(system)
        await nursery.start(system.run)
        return log, system

    return start


@pytest.fixture(params=["memory", "redis"])
async def event_log(
    request: pytest.FixtureRequest, start_memory_log: StartLog
) -> AsyncIterator[Any]:
    """Every `EventLog` backend, for the contract tests. The Redis one lives under a key
    prefix of its own on the shared server, deleted afterwards. Nothing in it runs a timer
    of its own: while a test waits on the server, an autojump clock would leap to that
    timer, past the test's own deadline. So its client has no reply timeout (open_redis's
    has one), and the log's actors do not run (a retention ticker; the watcher that wakes
    group members): the contract needs none of them."""
    topics = {"tweets": 8, "likes": 4}
    if request.param == "memory":
        log, _ = await start_memory_log(topics)
        yield log
        return
    import coredis

    from storage.redis.eventlog import RedisEventLog
    from tests.backends import scratch_name

    url = request.getfixturevalue("servers").redis_url
    prefix = scratch_name("test") + ":"
    async with coredis.Redis.from_url(url, decode_responses=False, stream_timeout=None) as client:
        try:
            log = RedisEventLog(client, topics, prefix=prefix)
            await log.prepare()
            yield log
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(keys)
