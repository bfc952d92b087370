"""Cells: what the runtime keeps about a name across the incarnations that bear it."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import trio

from ._actor import Actor, ActorRef, Ask
from ._deadlines import AskDeadlines
from ._errors import ActorKilled, ActorUnavailable, SupervisorGaveUp
from ._spec import ActorSpec, ChildSpec, Restart
from ._state import State

if TYPE_CHECKING:
    from ._supervisor import SupervisorCell

logger = logging.getLogger("actors")


class Incarnable(Protocol):
    """What a cell runs: an `Actor` or a `Supervisor`."""

    def request_stop(self) -> bool: ...
    async def on_stop(self) -> None: ...
    def describe(self) -> dict[str, Any]: ...


#: Called when an incarnation ends on its own (not stopped by its supervisor):
#: (cell, incarnation, error or None for a normal return).
ExitHandler = Callable[["Cell", "Incarnation", "BaseException | None"], None]


class Incarnation:
    """One run of a cell: the instance and the two scopes that end it.

    ``hard_scope`` is shielded, so only this runtime ends an incarnation (a kill, or the
    shutdown deadline), never a cancellation leaking from outside: that is what lets a
    supervisor stop its children in reverse order even while it is being cancelled itself.
    ``soft_scope`` is what an orderly stop cancels before `on_stop` runs. ``fate`` is the
    state an orderly stop leaves the cell in: `State.RESTARTING` when a restart follows.
    """

    __slots__ = (
        "cell",
        "instance",
        "error",
        "hard_scope",
        "soft_scope",
        "stopping",
        "fate",
        "kill_reason",
        "settled",
        "done",
    )

    def __init__(self, cell: Cell) -> None:
        self.cell = cell
        self.instance: Incarnable | None = None  # made by the spec's factory, in the task
        self.error: BaseException | None = None  # how it ended, once it has
        self.hard_scope = trio.CancelScope(shield=True)
        self.soft_scope = trio.CancelScope()
        self.stopping = False
        self.fate = State.STOPPED
        self.kill_reason: BaseException | None = None
        self.settled = trio.Event()  # started, or ended before it could
        self.done = trio.Event()

    def started(self, value: object = None) -> None:
        """The `task_status` given to the instance's ``run``."""
        if not self.stopping:
            self.cell.state = State.RUNNING
        self.settled.set()


class Cell:
    """A name in the tree: its spec, its counters, and its current incarnation."""

    kind = "actor"

    def __init__(self, spec: ChildSpec, parent: SupervisorCell | None) -> None:
        self.spec = spec
        self.parent = parent
        self.state = State.STOPPED
        self.starts = 0
        self.last_error: str | None = None
        self.finished = False  # ended in a way its supervisor accepts as final
        self.incarnation: Incarnation | None = None
        self.started_at = -math.inf

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def restarts(self) -> int:
        return max(self.starts - 1, 0)

    def start(self, nursery: trio.Nursery, on_exit: ExitHandler) -> Incarnation:
        """Start a new incarnation in ``nursery``; await its ``settled`` to know it is up."""
        if self.state is not State.RESTARTING:
            self.state = State.STARTING
        self.starts += 1
        self.started_at = trio.current_time()
        self.finished = False
        incarnation = Incarnation(self)
        self.incarnation = incarnation
        nursery.start_soon(self._run, incarnation, on_exit, name=f"actor:{self.name}")
        return incarnation

    async def stop(self, *, then: State = State.STOPPED) -> None:
        """Stop the current incarnation in order: ask it to finish, cancel it after the
        spec's ``shutdown`` seconds, wait until it has ended; then settle in ``then``.
        Idempotent. An incarnation already being killed is left to die as a crash, so
        its supervisor still hears of it."""
        incarnation = self.incarnation
        if incarnation is not None and not incarnation.done.is_set():
            if not incarnation.stopping and incarnation.kill_reason is None:
                self.state = State.STOPPING
                incarnation.stopping = True
                incarnation.fate = then
                incarnation.hard_scope.deadline = trio.current_time() + self.spec.shutdown
                instance = incarnation.instance
                if instance is None or not instance.request_stop():
                    incarnation.soft_scope.cancel()
            await incarnation.done.wait()
        self.settle(then)

    def kill(self, reason: BaseException | None = None) -> bool:
        """End the current incarnation as if it crashed. False if nothing was running."""
        incarnation = self.incarnation
        if incarnation is None or incarnation.done.is_set():
            return False
        incarnation.kill_reason = reason or ActorKilled()
        incarnation.hard_scope.cancel()
        return True

    def settle(self, state: State) -> None:
        """Record that this cell is down and whether it comes back (`State.RESTARTING`) or
        not (`State.STOPPED`)."""
        self.state = state

    def describe(self) -> dict[str, Any]:
        shutdown = self.spec.shutdown
        info: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "state": self.state.value,
            "restart": self.spec.restart.value,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "shutdown_timeout": None if math.isinf(shutdown) else shutdown,
        }
        instance = self.incarnation.instance if self.incarnation is not None else None
        if instance is not None:
            info["type"] = type(instance).__name__
            if self.state is State.RUNNING:
                info.update(instance.describe())
        return info

    def _make_instance(self) -> Incarnable:
        raise TypeError(f"{type(self).__name__} cannot make instances")

    async def _run_instance(self, incarnation: Incarnation) -> None:
        raise TypeError(f"{type(self).__name__} cannot run instances")

    async def _run(self, incarnation: Incarnation, on_exit: ExitHandler) -> None:
        error: BaseException | None = None
        try:
            try:
                with incarnation.hard_scope:
                    try:
                        with incarnation.soft_scope:
                            # A factory that raises fails this start like any crash.
                            incarnation.instance = self._make_instance()
                            await self._run_instance(incarnation)
                        if incarnation.stopping and incarnation.instance is not None:
                            await incarnation.instance.on_stop()
                    except Exception as exc:
                        error = exc
            except Exception as exc:
                # What a group holds once the hard scope has taken out its own Cancelled:
                # a task of the actor that failed while the kill was tearing it down.
                error = exc
            if incarnation.kill_reason is not None and incarnation.hard_scope.cancelled_caught:
                error = incarnation.kill_reason
        finally:
            incarnation.error = error
            incarnation.settled.set()
            incarnation.done.set()
        if error is not None:
            self.last_error = _summarise(error)
            if isinstance(error, ActorKilled):
                logger.warning("%s was killed", self.name)
            else:
                logger.error("%s crashed: %s", self.name, self.last_error, exc_info=error)
        if not incarnation.stopping:
            # Until its supervisor acts on the report: tells still queue for a child that
            # is coming back, and fail at once for one that is not.
            will_restart = self.parent is not None and restarts_after(self.spec.restart, error)
            self.finished = self.parent is not None and not will_restart
            self.settle(State.RESTARTING if will_restart else State.STOPPED)
            on_exit(self, incarnation, error)


class ActorCell(Cell):
    """An actor's cell owns its mailbox, so messages wait through a restart. When the actor
    is stopped for good the mailbox is closed: the asks still in it fail and blocked
    senders wake with `ActorUnavailable`, instead of waiting for an actor that is gone."""

    spec: ActorSpec

    def __init__(
        self, spec: ActorSpec, parent: SupervisorCell | None, deadlines: AskDeadlines
    ) -> None:
        super().__init__(spec, parent)
        self.deadlines = deadlines
        self.mailbox_send, self.mailbox_receive = trio.open_memory_channel[Any](spec.mailbox_size)
        self.mailbox_closed = False
        self.asking: set[Ask] = set()  # the asks whose senders wait for an answer
        self.ref = ActorRef(self)

    def start(self, nursery: trio.Nursery, on_exit: ExitHandler) -> Incarnation:
        if self.mailbox_closed:  # stopped for good once, started again after all
            self.mailbox_send, self.mailbox_receive = trio.open_memory_channel[Any](
                self.spec.mailbox_size
            )
            self.mailbox_closed = False
        return super().start(nursery, on_exit)

    def settle(self, state: State) -> None:
        super().settle(state)
        if state is State.STOPPED:
            self._close_mailbox()
        elif state is State.BACKOFF:
            self._refuse_waiting_asks()

    def _refuse_waiting_asks(self) -> None:
        """Answer the asks waiting in the mailbox now, as new ones are while backing off,
        rather than after seconds; withdrawn, they are skipped when the actor is back.
        Tells stay, in order."""
        for message in list(self.asking):
            message.withdrawn = True
            message.abandon(ActorUnavailable(f"{self.name} went down to back off"))

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["mailbox_depth"] = self.ref.mailbox_depth
        info["mailbox_size"] = self.spec.mailbox_size
        return info

    def _close_mailbox(self) -> None:
        self.mailbox_closed = True
        self.mailbox_send.close()
        dropped = 0
        while True:
            try:
                message = self.mailbox_receive.receive_nowait()
            except (trio.WouldBlock, trio.EndOfChannel):
                break
            if type(message) is Ask:
                message.abandon(ActorUnavailable(f"{self.name} stopped before answering"))
            else:
                dropped += 1
        if dropped:
            logger.warning("%s stopped for good with %d message(s) unhandled", self.name, dropped)

    def _make_instance(self) -> Actor:
        actor = self.spec.factory()
        actor.name = self.name
        return actor

    async def _run_instance(self, incarnation: Incarnation) -> None:
        actor = incarnation.instance
        assert isinstance(actor, Actor)
        await actor.run(self.mailbox_receive, task_status=incarnation)


def restarts_after(restart: Restart, error: BaseException | None) -> bool:
    """OTP: permanent children always come back; transient ones after a crash, but not
    after a normal return nor after a supervisor gave up (OTP's exit reason ``shutdown``);
    temporary ones never."""
    if restart is Restart.PERMANENT:
        return True
    return (
        restart is Restart.TRANSIENT
        and error is not None
        and not isinstance(error, SupervisorGaveUp)
    )


def _summarise(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, ActorKilled):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
