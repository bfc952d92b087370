"""Supervisors: OTP restart strategies, restart types and restart intensity."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import trio

from ._cell import Cell, ExitHandler, Incarnation, restarts_after
from ._errors import ActorCrashed, ActorUnavailable, SupervisorGaveUp
from ._spec import Restart, Strategy, SupervisorSpec
from ._state import State


class SupervisorCell(Cell):
    """A supervisor's cell keeps its children's cells, so a restarted supervisor finds the
    same names and mailboxes, and the children added to it while it ran."""

    kind = "supervisor"
    spec: SupervisorSpec

    def __init__(
        self,
        spec: SupervisorSpec,
        parent: SupervisorCell | None,
        forget: Callable[[Cell], None],
    ) -> None:
        super().__init__(spec, parent)
        self.children: list[Cell] = []
        self.forget = forget  # frees a name that will never run again
        self.gave_up = 0  # times it has given up, in all
        self.give_up_streak = 0  # give-ups each soon after the restart before: the backoff's
        self.restart_at: float | None = None  # while backing off: when it starts again

    def start(self, nursery: trio.Nursery, on_exit: ExitHandler) -> Incarnation:
        self.restart_at = None
        return super().start(nursery, on_exit)

    def settle(self, state: State) -> None:
        """A supervisor's fate is its whole subtree's: they come back together or not."""
        super().settle(state)
        for child in self.children:
            child.settle(state)

    def drop(self, child: Cell) -> None:
        """Remove a child for good (a temporary one that ended, one that failed to start
        when added): OTP forgets it, and so does the registry. Idempotent."""
        child.settle(State.STOPPED)
        if child in self.children:
            self.children.remove(child)
            self.forget(child)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["strategy"] = self.spec.strategy.value
        info["intensity"] = {"max_restarts": self.spec.max_restarts, "within": self.spec.within}
        info["gave_up"] = self.gave_up
        if self.state is State.BACKOFF and self.restart_at is not None:
            info["restart_in"] = round(max(self.restart_at - trio.current_time(), 0.0), 3)
        info["children"] = [child.describe() for child in self.children]
        return info

    def _make_instance(self) -> Supervisor:
        return Supervisor(self)

    async def _run_instance(self, incarnation: Incarnation) -> None:
        supervisor = incarnation.instance
        assert isinstance(supervisor, Supervisor)
        await supervisor.run(task_status=incarnation)


@dataclass
class _Exited:
    cell: Cell
    incarnation: Incarnation
    error: BaseException | None


@dataclass
class _BackoffOver:
    cell: SupervisorCell  # the one that gave up
    due: float  # its restart_at when the backoff began: stale if it has changed since
    cells: list[Cell]  # what its supervisor's strategy restarts with it


@dataclass
class _AddChild:
    cell: Cell
    handled: trio.Event = field(default_factory=trio.Event)
    refused: BaseException | None = None


_Event = _Exited | _BackoffOver | _AddChild


class Supervisor:
    """One incarnation of a supervisor: starts its children in order, restarts them as its
    strategy says, and stops them in reverse order when it stops, crashes or gives up.

    Every decision is taken in the supervisor's own task, one event at a time, so a crash
    that arrives while a restart is under way waits its turn instead of racing it.
    """

    def __init__(self, cell: SupervisorCell) -> None:
        self._cell = cell
        self._spec = cell.spec
        self._events_send, self._events = trio.open_memory_channel[_Event](math.inf)
        self._restart_times: deque[float] = deque()
        self._nursery: trio.Nursery | None = None

    def request_stop(self) -> bool:
        return False

    async def on_stop(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {}

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Start the children, then supervise them until cancelled or given up.

        Raises `SupervisorGaveUp` when restarts exceed the intensity. However it ends, the
        children are stopped in reverse start order first, each within its shutdown timeout.
        """
        gave_up: SupervisorGaveUp | None = None
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                for child in list(self._cell.children):
                    await self._start(child)
                task_status.started()
                async for event in self._events:
                    if isinstance(event, _Exited):
                        await self._child_exited(event)
                    elif isinstance(event, _BackoffOver):
                        if event.cell.restart_at == event.due:
                            await self._restart(event.cells)
                    else:
                        try:
                            await self._add_child(event)
                        finally:
                            event.handled.set()
            except SupervisorGaveUp as exc:
                gave_up = exc  # raised below, not from inside the nursery, so not in a group
            finally:
                self._events_send.close()
                self._refuse_pending_additions()
                with trio.CancelScope(shield=True):
                    await self._stop(reversed(self._cell.children), then=self._children_fate())
                nursery.cancel_scope.cancel()  # the backoff timers left: nothing to restart
        if gave_up is not None:
            raise gave_up

    def _children_fate(self) -> State:
        """What the children are stopped into. STOPPED only when this supervisor is being
        stopped for good, in order; otherwise RESTARTING for now, since whether it comes
        back is known only once it has ended (a parent may still restart it), and the
        settle that follows its end spreads the answer through the subtree."""
        incarnation = self._cell.incarnation
        if incarnation is not None and incarnation.stopping and incarnation.fate is State.STOPPED:
            return State.STOPPED
        return State.RESTARTING

    async def add_child(self, cell: Cell) -> None:
        """Append ``cell`` to the children and start it (OTP ``start_child``).

        Raises `ActorUnavailable` if this supervisor ends before it could.
        """
        request = _AddChild(cell)
        try:
            self._events_send.send_nowait(request)
        except trio.ClosedResourceError:
            request.refused = ActorUnavailable(f"{self._cell.name} is stopping")
        else:
            await request.handled.wait()
        if request.refused is not None:
            raise request.refused

    async def _add_child(self, request: _AddChild) -> None:
        cell = request.cell
        self._cell.children.append(cell)
        incarnation = await self._start(cell)
        if incarnation.done.is_set():
            # It failed while starting: refuse it, as OTP's start_child does, rather than
            # keep restarting a child its caller was never told had started.
            self._cell.drop(cell)
            request.refused = ActorCrashed(f"{cell.name} failed to start")
            request.refused.__cause__ = incarnation.error

    def _refuse_pending_additions(self) -> None:
        while True:
            try:
                event = self._events.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                return
            if isinstance(event, _AddChild):
                event.refused = ActorUnavailable(f"{self._cell.name} stopped first")
                event.handled.set()

    async def _start(self, cell: Cell) -> Incarnation:
        assert self._nursery is not None
        incarnation = cell.start(self._nursery, self._report_exit)
        await incarnation.settled.wait()
        return incarnation

    def _report_exit(
        self, cell: Cell, incarnation: Incarnation, error: BaseException | None
    ) -> None:
        try:
            self._events_send.send_nowait(_Exited(cell, incarnation, error))
        except trio.ClosedResourceError:
            pass  # this supervisor is ending and stops every child itself

    async def _child_exited(self, event: _Exited) -> None:
        cell = event.cell
        if cell.incarnation is not event.incarnation or cell not in self._cell.children:
            return  # replaced, or dropped, while this report waited
        if not restarts_after(cell.spec.restart, event.error):
            if cell.spec.restart is Restart.TEMPORARY:
                self._cell.drop(cell)
            return
        self._count_restart(cell, event.error)
        children = self._cell.children
        strategy = self._spec.strategy
        if strategy is Strategy.ONE_FOR_ONE:
            to_restart = [cell]
        elif strategy is Strategy.ONE_FOR_ALL:
            to_restart = list(children)
        else:
            to_restart = children[children.index(cell) :]
        await self._stop(reversed(to_restart), then=State.RESTARTING)
        for child in to_restart:
            if child.spec.restart is Restart.TEMPORARY and child is not cell:
                # OTP: a temporary child stopped because a sibling crashed is not restarted.
                self._cell.drop(child)
        to_restart = [child for child in to_restart if child in children]
        gave_up = isinstance(cell, SupervisorCell) and isinstance(event.error, SupervisorGaveUp)
        delay = self._backoff(cell) if gave_up else 0.0
        if delay <= 0:
            await self._restart(to_restart)
            return
        assert isinstance(cell, SupervisorCell) and self._nursery is not None
        cell.restart_at = trio.current_time() + delay
        for child in to_restart:
            child.settle(State.BACKOFF)
        self._nursery.start_soon(
            self._backoff_over, _BackoffOver(cell, cell.restart_at, to_restart)
        )

    def _backoff(self, cell: Cell) -> float:
        """How long ``cell``, a supervisor that just gave up, waits before it starts again."""
        assert isinstance(cell, SupervisorCell)
        cell.gave_up += 1
        soon = trio.current_time() - cell.started_at < self._spec.max_backoff
        cell.give_up_streak = cell.give_up_streak + 1 if soon else 1
        if self._spec.backoff <= 0:
            return 0.0
        delay = self._spec.backoff * 2 ** min(cell.give_up_streak - 1, 32)
        return min(delay, self._spec.max_backoff)

    async def _backoff_over(self, over: _BackoffOver) -> None:
        await trio.sleep_until(over.due)
        try:
            self._events_send.send_nowait(over)
        except trio.ClosedResourceError:
            pass  # this supervisor stopped meanwhile, and its children with it

    async def _restart(self, cells: list[Cell]) -> None:
        for child in cells:
            # Skipped: dropped meanwhile, or started by a wider restart in the meantime.
            if child in self._cell.children and child.state in (State.RESTARTING, State.BACKOFF):
                await self._start(child)

    def _count_restart(self, cell: Cell, error: BaseException | None) -> None:
        now = trio.current_time()
        times = self._restart_times
        times.append(now)
        while times[0] <= now - self._spec.within:
            times.popleft()
        if len(times) > self._spec.max_restarts:
            raise SupervisorGaveUp(
                f"{self._cell.name}: more than {self._spec.max_restarts} restarts in "
                f"{self._spec.within} s; the last was {cell.name} ({cell.last_error or 'exited'})"
            ) from error

    async def _stop(self, cells: Iterable[Cell], *, then: State) -> None:
        for cell in list(cells):
            await cell.stop(then=then)
