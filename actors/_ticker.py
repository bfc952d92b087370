"""A ticker actor: tells a set of actors the same message on a timer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from ._actor import Actor, ActorRef


class Ticker(Actor):
    """Every ``interval`` seconds, tells ``message`` to each actor ``targets()`` names, as
    Kafka's log cleaner or Redis's active expiry work on a timer: idle data ages out too."""

    def __init__(
        self, targets: Callable[[], list[ActorRef]], message: Any, interval: float
    ) -> None:
        self._targets = targets
        self._message = message
        self._interval = interval

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            for target in self._targets():
                await target.tell(self._message)
