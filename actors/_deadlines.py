"""Ask timeouts from one timer task, instead of one cancel scope per ask."""

from __future__ import annotations

import math
from heapq import heappop, heappush
from itertools import count
from typing import TYPE_CHECKING

import trio

from ._errors import ActorUnavailable

if TYPE_CHECKING:
    from ._actor import Ask


class AskDeadlines:
    """Expires asks whose time is up.

    A cancel scope per ask costs trio more than the rest of the round trip (a deadline
    registered and cancelled in its run loop each time; see ``python -m bench actors``), so
    asks go into one heap watched by one task per system. Asks answered in time leave the
    heap lazily, from its head, as later ones arrive.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Ask]] = []
        self._order = count()
        self._sleep: trio.CancelScope | None = None
        self._unbounded: set[Ask] = set()  # asks without a deadline, failed at system end

    def add(self, ask: Ask, deadline: float) -> None:
        if deadline == math.inf:
            self._unbounded.add(ask)
            return
        heap = self._heap
        while heap and heap[0][2].finished:
            heappop(heap)
        heappush(heap, (deadline, next(self._order), ask))
        if self._sleep is not None and deadline < self._sleep.deadline:
            self._sleep.deadline = deadline

    def discard(self, ask: Ask) -> None:
        """Forget an ask without a deadline once it is finished."""
        self._unbounded.discard(ask)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Expire asks as their deadlines pass, until cancelled; then fail whatever is still
        waiting with `ActorUnavailable` (the system is gone, nobody will answer)."""
        heap = self._heap
        task_status.started()
        try:
            while True:
                now = trio.current_time()
                while heap and (heap[0][2].finished or heap[0][0] <= now):
                    _, _, ask = heappop(heap)
                    if not ask.finished:
                        ask.expire()
                with trio.CancelScope(deadline=heap[0][0] if heap else math.inf) as self._sleep:
                    await trio.sleep_forever()
                self._sleep = None
        finally:
            self._sleep = None
            waiting = [ask for _, _, ask in heap] + list(self._unbounded)
            heap.clear()
            self._unbounded.clear()
            for ask in waiting:
                ask.abandon(ActorUnavailable("the actor system stopped"))
