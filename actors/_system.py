"""The actor system: the registry of names around one root supervisor."""

from __future__ import annotations

from typing import Any

import trio

from ._actor import ActorRef
from ._cell import ActorCell, Cell, Incarnation, State
from ._deadlines import AskDeadlines
from ._errors import ActorCrashed, ActorUnavailable, NoSuchActor, SupervisorGaveUp
from ._spec import ActorSpec, ChildSpec, SupervisorSpec
from ._supervisor import Supervisor, SupervisorCell


class ActorSystem:
    """Names, lookups, the chaos lever and introspection over one supervision tree.

    Build it from the root `SupervisorSpec`, then ``await nursery.start(system.run)``; it
    reports started once every child of the tree has started. Every name in the tree is
    unique and can be looked up (`ref`), killed (`kill`) or described (`tree`).
    """

    def __init__(self, root: SupervisorSpec) -> None:
        self._cells: dict[str, Cell] = {}
        self._deadlines = AskDeadlines()
        self._root = self._build(root, parent=None)
        assert isinstance(self._root, SupervisorCell)
        self._root_error: BaseException | None = None

    async def run(
        self, *, task_status: trio.TaskStatus[ActorSystem] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the tree until `shutdown` (returns) or until the root supervisor gives up or is
        killed (raises `SupervisorGaveUp` carrying the reason).

        Cancelling `run` stops the tree in order too, before the cancellation goes on: the
        runtime shields its actors from outside cancellation so that order holds.
        """
        async with trio.open_nursery() as nursery:
            await nursery.start(self._deadlines.run)
            incarnation = self._root.start(nursery, self._root_exited)
            try:
                await incarnation.settled.wait()
                if not incarnation.done.is_set():
                    task_status.started(self)
                await incarnation.done.wait()
            finally:
                with trio.CancelScope(shield=True):
                    await self._root.stop()
                nursery.cancel_scope.cancel()  # the deadlines task, failing asks left waiting
        if self._root_error is not None:
            if isinstance(self._root_error, SupervisorGaveUp):
                raise self._root_error
            raise SupervisorGaveUp(f"{self._root.name} ended: {self._root.last_error}") from (
                self._root_error
            )

    async def shutdown(self) -> None:
        """Stop the whole tree in reverse start order; `run` then returns."""
        await self._root.stop()

    def ref(self, name: str) -> ActorRef:
        """The reference to the actor named ``name``; valid across its restarts."""
        cell = self._cell(name)
        if not isinstance(cell, ActorCell):
            raise TypeError(f"{name!r} is a supervisor; it has no mailbox")
        return cell.ref

    def kill(self, name: str) -> None:
        """End ``name`` as if it crashed (the chaos lever); its supervisor handles the rest.

        Raises `NoSuchActor`, or `ActorUnavailable` if it is not running.
        """
        if not self._cell(name).kill():
            raise ActorUnavailable(f"{name} is not running")

    async def spawn(self, spec: ChildSpec, *, parent: str) -> None:
        """Add ``spec`` (an actor or a whole subtree) as the last child of the supervisor
        ``parent`` and start it; its names become visible at once.

        Raises `ActorCrashed` (with the cause) if it fails to start, and then it is not
        added, as OTP's ``start_child``; `ActorUnavailable` if ``parent`` is not running.
        """
        supervisor_cell = self._cell(parent)
        if not isinstance(supervisor_cell, SupervisorCell):
            raise TypeError(f"{parent!r} is not a supervisor")
        incarnation = supervisor_cell.incarnation
        if supervisor_cell.state is not State.RUNNING or incarnation is None:
            raise ActorUnavailable(f"{parent} is not running")
        supervisor = incarnation.instance
        assert isinstance(supervisor, Supervisor)
        cell = self._build(spec, parent=None)
        cell.parent = supervisor_cell
        try:
            await supervisor.add_child(cell)
        except (ActorUnavailable, ActorCrashed):
            cell.settle(State.STOPPED)  # closes mailboxes a ref taken meanwhile points at
            self._forget(cell)
            raise

    def tree(self) -> dict[str, Any]:
        """The whole tree as plain data: name, kind, state, restarts, last error, mailbox
        depth, and whatever each actor adds (lag, sizes)."""
        return self._root.describe()

    def state(self, name: str) -> str:
        return self._cell(name).state.value

    def restarts(self, name: str) -> int:
        return self._cell(name).restarts

    def unavailable(self) -> list[str]:
        """Names that should be running and are not (starting, restarting, stopped after
        their supervisor gave up): empty when the tree is whole. A transient child that
        finished, or a temporary one, is done rather than missing, and so is its subtree."""
        missing: list[str] = []

        def visit(cell: Cell) -> None:
            if cell.finished:
                return
            if cell.state is not State.RUNNING:
                missing.append(cell.name)
            if isinstance(cell, SupervisorCell):
                for child in cell.children:
                    visit(child)

        visit(self._root)
        return missing

    def backing_off(self) -> list[dict[str, Any]]:
        """The subtrees down after their supervisor gave up, waiting out a backoff before
        they start again: a crash loop, at its top. Outermost first."""
        found: list[dict[str, Any]] = []

        def visit(cell: Cell) -> None:
            if not isinstance(cell, SupervisorCell):
                return
            if cell.state is State.BACKOFF and cell.restart_at is not None:
                found.append(
                    {
                        "name": cell.name,
                        "gave_up": cell.gave_up,
                        "restart_in": round(max(cell.restart_at - trio.current_time(), 0.0), 3),
                        "last_error": cell.last_error,
                    }
                )
                return
            for child in cell.children:
                visit(child)

        visit(self._root)
        return found

    def _cell(self, name: str) -> Cell:
        try:
            return self._cells[name]
        except KeyError:
            raise NoSuchActor(name) from None

    def _build(self, spec: ChildSpec, parent: SupervisorCell | None) -> Cell:
        if spec.name in self._cells:
            raise ValueError(f"two actors named {spec.name!r}")
        cell: Cell
        if isinstance(spec, ActorSpec):
            cell = ActorCell(spec, parent, self._deadlines)
            self._cells[spec.name] = cell
        else:
            supervisor = SupervisorCell(spec, parent, self._forget)
            self._cells[spec.name] = supervisor
            try:
                supervisor.children = [self._build(child, supervisor) for child in spec.children]
            except ValueError:
                self._forget(supervisor)
                raise
            cell = supervisor
        return cell

    def _forget(self, cell: Cell) -> None:
        self._cells.pop(cell.name, None)
        if isinstance(cell, SupervisorCell):
            for child in cell.children:
                self._forget(child)

    def _root_exited(
        self, cell: Cell, incarnation: Incarnation, error: BaseException | None
    ) -> None:
        self._root_error = error  # nobody restarts the root: the system ends with it
