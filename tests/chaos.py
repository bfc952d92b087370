"""Chaos for the tests: the actors a tree holds, and a task that keeps killing them."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from actors import ActorSystem, ActorUnavailable


def leaf_actors(node: dict[str, Any]) -> list[str]:
    """Every actor (not supervisor) in ``ActorSystem.tree()``'s description."""
    if node["kind"] != "supervisor":
        return [node["name"]]
    return [name for child in node["children"] for name in leaf_actors(child)]


class _Chaos:
    """Chaos that runs while let loose: `loose` runs ``_run`` until the block ends."""

    async def _run(self) -> None:
        raise NotImplementedError

    @asynccontextmanager
    async def loose(self) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()


class ChaosMonkey(_Chaos):
    """While let loose, kills one of ``victims`` every 1–11 scheduler ticks: between any
    two steps of whatever else runs, inside batches and asks."""

    def __init__(self, system: ActorSystem, victims: Sequence[str], rng: random.Random) -> None:
        self._system = system
        self._victims = list(victims)
        self._rng = rng
        self.kills = 0

    async def _run(self) -> None:
        while True:
            for _ in range(self._rng.randrange(1, 12)):
                await trio.lowlevel.checkpoint()
            try:
                self._system.kill(self._rng.choice(self._victims))
            except ActorUnavailable:
                continue  # still restarting from the last kill
            self.kills += 1


def kind_of(name: str) -> str:
    """An actor's kind: the subtree it lives in (``log``, ``cache``, ``fanout``…)."""
    return name.split(".", 1)[0]


class PacedChaos(_Chaos):
    """While let loose, kills one running actor every 50–200 ms (``pause``), the kinds
    taken in shuffled rounds so that each kind of ``victims`` is hit, and an actor chosen
    at random within its kind.

    ``kill(name)`` does the killing and says whether it landed (False: the actor was not
    running, say still restarting from the last kill); a kind missed stays due this round.
    ``kills`` counts the kills that landed, per kind.
    """

    def __init__(
        self,
        victims: Sequence[str],
        kill: Callable[[str], Awaitable[bool]],
        rng: random.Random,
        *,
        pause: tuple[float, float] = (0.05, 0.2),
    ) -> None:
        self._by_kind: dict[str, list[str]] = {}
        for name in victims:
            self._by_kind.setdefault(kind_of(name), []).append(name)
        self._kill = kill
        self._rng = rng
        self._pause = pause
        self._due: list[str] = []
        self.kills = Counter[str]()
        self.every_kind = trio.Event()  # set once each kind has had a kill land

    @property
    def kinds(self) -> set[str]:
        return set(self._by_kind)

    async def _run(self) -> None:
        while True:
            # Pacing the chaos, not waiting for anything: a sleep is what is meant here.
            await trio.sleep(self._rng.uniform(*self._pause))
            await self.strike()

    async def strike(self) -> None:
        """One kill attempt, on the next kind due."""
        if not self._due:
            self._due = sorted(self._by_kind)
            self._rng.shuffle(self._due)
        kind = self._due.pop(0)
        if await self._kill(self._rng.choice(self._by_kind[kind])):
            self.kills[kind] += 1
            if len(self.kills) == len(self._by_kind):
                self.every_kind.set()
        else:
            self._due.append(kind)
