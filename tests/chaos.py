"""Chaos for the tests: the actors a tree holds, and a task that keeps killing them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio

from actors import ActorSystem, ActorUnavailable


def leaf_actors(node: dict[str, Any]) -> list[str]:
    """Every actor (not supervisor) in ``ActorSystem.tree()``'s description."""
    if node["kind"] != "supervisor":
        return [node["name"]]
    return [name for child in node["children"] for name in leaf_actors(child)]


class ChaosMonkey:
    """While let loose, kills one of ``victims`` every 1–11 scheduler ticks: between any
    two steps of whatever else runs, inside batches and asks."""

    def __init__(self, system: ActorSystem, victims: Sequence[str], rng: random.Random) -> None:
        self._system = system
        self._victims = list(victims)
        self._rng = rng
        self.kills = 0

    @asynccontextmanager
    async def loose(self) -> AsyncIterator[None]:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._run)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()

    async def _run(self) -> None:
        while True:
            for _ in range(self._rng.randrange(1, 12)):
                await trio.lowlevel.checkpoint()
            try:
                self._system.kill(self._rng.choice(self._victims))
            except ActorUnavailable:
                continue  # still restarting from the last kill
            self.kills += 1
