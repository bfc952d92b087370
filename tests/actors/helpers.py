"""Actors that record what happens to them, for the runtime's tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from actors import Actor, ActorSpec, ActorSystem, Strategy, SupervisorSpec


@dataclass
class Journal:
    """What every actor in a test did, in order: ("start"|"stop", name)."""

    events: list[tuple[str, str]] = field(default_factory=list)
    handled: list[tuple[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[str]:
        return [name for what, name in self.events if what == kind]


class Crash(Exception):
    """What a test tells an actor to raise."""


class Recorder(Actor):
    """Logs its starts and orderly stops; answers "ping"; ("crash", reason) raises Crash;
    ("block", event) waits on the event before going on."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def on_start(self) -> None:
        self.journal.events.append(("start", self.name))

    async def on_stop(self) -> None:
        self.journal.events.append(("stop", self.name))

    async def receive(self, message: Any) -> Any:
        self.journal.handled.append((self.name, message))
        match message:
            case ("crash", reason):
                raise Crash(reason)
            case ("block", trio.Event() as event):
                await event.wait()
                return "unblocked"
            case "ping":
                return "pong"
        return None


class Returner(Actor):
    """Returns from run as soon as it has started: a normal exit."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def run(self, mailbox: Any, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        self.journal.events.append(("start", self.name))
        task_status.started()


def recorder(name: str, journal: Journal, **options: Any) -> ActorSpec:
    return ActorSpec(name, lambda: Recorder(journal), **options)


def returner(name: str, journal: Journal, **options: Any) -> ActorSpec:
    return ActorSpec(name, lambda: Returner(journal), **options)


def supervisor(
    name: str,
    children: list[ActorSpec | SupervisorSpec],
    strategy: Strategy = Strategy.ONE_FOR_ONE,
    **options: Any,
) -> SupervisorSpec:
    return SupervisorSpec(name, children, strategy, **options)


async def started(nursery: trio.Nursery, root: SupervisorSpec) -> ActorSystem:
    system = ActorSystem(root)
    await nursery.start(system.run)
    return system


def restarts(system: ActorSystem, *names: str) -> dict[str, int]:
    return {name: system.restarts(name) for name in names}
