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


@pytest.fixture(params=["memory"])
async def event_log(
    request: pytest.FixtureRequest, start_memory_log: StartLog
) -> AsyncIterator[Any]:
    """Every `EventLog` backend, for the contract tests (more backends join this list)."""
    log, _ = await start_memory_log({"tweets": 8, "likes": 4})
    yield log
