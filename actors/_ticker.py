"""A ticker actor: tells a set of actors the same message on a timer."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import trio

from ._actor import Actor, ActorRef


class Ticker(Actor):
    """Every ``interval`` seconds, tells ``message`` to each actor ``targets()`` names, as
    Kafka's log cleaner or Redis's active expiry work on a timer: idle data ages out too.

    ``aligned`` ticks fall on multiples of ``interval`` on the clock, so a restarted ticker
    keeps the beat it had instead of starting a new one from its restart."""

    def __init__(
        self,
        targets: Callable[[], list[ActorRef]],
        message: Any,
        interval: float,
        *,
        aligned: bool = False,
    ) -> None:
        self._targets = targets
        self._message = message
        self._interval = interval
        self._aligned = aligned

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            if self._aligned:
                beat = (math.floor(trio.current_time() / self._interval) + 1) * self._interval
                await trio.sleep_until(beat)
            else:
                await trio.sleep(self._interval)
            for target in self._targets():
                await target.tell(self._message)
