"""Actors, their mailboxes, and the references senders hold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from ._errors import ActorCrashed, ActorUnavailable, AskFailed, AskTimeout
from ._state import State

if TYPE_CHECKING:
    from ._cell import ActorCell


class Actor:
    """One incarnation of a named actor; subclass it.

    A mailbox actor overrides `receive`; the default `run` feeds it one message at a time, in
    order, and answers `ask` with what it returns. An actor that is a loop of its own (a
    consumer, a server, a ticker) overrides `run` instead. Either way, an exception that
    escapes is a crash: the supervisor decides what happens next. A fresh instance is made
    for every (re)start; the name and the mailbox carry over.
    """

    #: Set by the runtime before `run` is called.
    name: str = ""

    async def on_start(self) -> None:
        """Prepare state before the actor counts as started (OTP ``init``). Raising here is
        a crash like any other."""

    async def receive(self, message: Any) -> Any:
        """Handle one message; the return value is the reply to an `ask`."""
        raise TypeError(f"{type(self).__name__} takes no messages; override receive() or run()")

    async def on_stop(self) -> None:
        """Clean up after an orderly stop (not after a crash or a kill), within the spec's
        ``shutdown`` seconds."""

    def request_stop(self) -> bool:
        """Called when the supervisor stops this actor in order. Return True if the actor
        will finish `run` on its own (a server draining its requests, say); the default False
        has `run` cancelled at once. Either way `run` is cancelled when ``shutdown`` runs out."""
        return False

    def describe(self) -> dict[str, Any]:
        """Extra fields for introspection (lag, sizes). Must be cheap and do no I/O."""
        return {}

    async def run(
        self,
        mailbox: trio.MemoryReceiveChannel[Any],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Start, then handle the mailbox until cancelled. Returning counts as a normal exit.

        Messages already waiting are taken without a trip through the scheduler each (a
        mailbox under load holds many); every `DRAIN_BATCH` messages the loop checkpoints,
        so a busy actor lets others run and notices a kill.
        """
        await self.on_start()
        task_status.started()
        handle = self._handle
        take_waiting = mailbox.receive_nowait
        while True:
            await handle(await mailbox.receive())
            for _ in range(DRAIN_BATCH - 1):
                try:
                    message = take_waiting()
                except trio.WouldBlock:
                    break
                await handle(message)

    async def _handle(self, message: Any) -> None:
        if type(message) is not Ask:
            await self.receive(message)
        elif not message.withdrawn:
            try:
                reply = await self.receive(message.request)
            except BaseException as exc:
                message.fail(self.name, exc)
                raise
            message.reply(reply)


#: How many waiting messages an actor handles between checkpoints.
DRAIN_BATCH = 64


class Ask:
    """A request in a mailbox, with the slot its reply goes to. Made by `ActorRef.ask`;
    actors that override `run` answer it with `reply` or `fail`."""

    __slots__ = ("request", "withdrawn", "finished", "_asker", "_reply", "_error")

    def __init__(self, request: Any) -> None:
        self.request = request
        self.withdrawn = False  # the asker gave up: skip it
        self.finished = False  # answered, failed, expired or withdrawn
        self._asker: trio.lowlevel.Task | None = None
        self._reply: Any = None
        self._error: BaseException | None = None

    async def wait(self) -> None:
        """Block until finished. Parks the task directly (what `trio.Event` does through a
        parking lot), which is measurably cheaper on this hot path."""
        if self.finished:
            await trio.lowlevel.checkpoint()
            return
        self._asker = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _: object) -> trio.lowlevel.Abort:
        self._asker = None
        return trio.lowlevel.Abort.SUCCEEDED

    def reply(self, value: Any) -> None:
        if not self.finished:
            self._reply = value
            self._finish()

    def fail(self, actor_name: str, exc: BaseException) -> None:
        """The actor ended while handling this request (a crash, a kill or a stop): whether
        it took effect is unknown, so the asker gets `ActorCrashed`."""
        error = ActorCrashed(f"{actor_name} ended while handling the request")
        if not isinstance(exc, trio.Cancelled):
            error.__cause__ = exc
        self.abandon(error)

    def expire(self) -> None:
        self.withdrawn = True
        self.abandon(AskTimeout("no answer in time"))

    def abandon(self, error: BaseException) -> None:
        if not self.finished:
            self._error = error
            self._finish()

    def _finish(self) -> None:
        self.finished = True
        asker, self._asker = self._asker, None
        if asker is not None:
            trio.lowlevel.reschedule(asker)


class ActorRef:
    """What senders hold: a stable handle on a name. It stays valid across restarts, since
    the mailbox belongs to the name, not to the incarnation."""

    __slots__ = ("_cell",)

    def __init__(self, cell: ActorCell) -> None:
        self._cell = cell

    @property
    def name(self) -> str:
        return self._cell.name

    @property
    def mailbox_depth(self) -> int:
        return self._cell.mailbox_send.statistics().current_buffer_used

    async def tell(self, message: Any) -> None:
        """Put ``message`` in the mailbox and return; there is no reply. A full mailbox makes
        this wait for room (backpressure): nothing is ever dropped while the actor lives.
        Raises `ActorUnavailable` if the actor is stopped for good (or stops while this
        waits for room)."""
        cell = self._cell
        try:
            await cell.mailbox_send.send(message)
        except trio.ClosedResourceError:
            raise ActorUnavailable(f"{cell.name} is stopped") from None

    async def ask(self, request: Any, *, timeout: float | None = 5.0) -> Any:
        """Send ``request`` and wait for the reply, at most ``timeout`` seconds in all
        (waiting for mailbox room included; None waits as long as it takes).

        Raises `AskTimeout` when time runs out (the request is withdrawn: an actor that has
        not started it skips it), `ActorCrashed` when the actor ends while handling it,
        `ActorUnavailable` when it is (or becomes) stopped for good, or at once while it is
        backing off (`SupervisorSpec.backoff`). Cancelling the caller
        withdraws the request too.
        """
        deadline = _deadline(timeout)
        message = await self._send(request, deadline, timeout)
        try:
            await message.wait()
        finally:
            self._settle(message, deadline)
        return self._outcome(message, timeout)

    async def _send(self, request: Any, deadline: float, timeout: float | None) -> Ask:
        cell = self._cell
        if cell.state is State.BACKOFF:
            # No answer can come for seconds: the caller had better hear so now.
            raise ActorUnavailable(f"{cell.name} is down until its subtree's backoff is over")
        message = Ask(request)
        try:
            try:
                cell.mailbox_send.send_nowait(message)
            except trio.WouldBlock:
                # A full mailbox: this slow path can afford the cancel scope the fast one avoids.
                with trio.move_on_at(deadline) as waiting_for_room:
                    await cell.mailbox_send.send(message)
                if waiting_for_room.cancelled_caught:
                    raise AskTimeout(f"{cell.name}'s mailbox stayed full for {timeout} s") from None
        except trio.ClosedResourceError:
            raise ActorUnavailable(f"{cell.name} is stopped") from None
        cell.deadlines.add(message, deadline)
        cell.asking.add(message)
        return message

    def _settle(self, message: Ask, deadline: float) -> None:
        self._cell.asking.discard(message)
        if deadline == math.inf:
            self._cell.deadlines.discard(message)
        if not message.finished:
            message.withdrawn = True
            message.finished = True

    def _outcome(self, message: Ask, timeout: float | None) -> Any:
        if message._error is not None:
            if isinstance(message._error, AskTimeout):
                raise AskTimeout(f"{self._cell.name} did not answer within {timeout} s")
            raise message._error
        return message._reply

    def __repr__(self) -> str:
        return f"<ActorRef {self._cell.name}>"


def _deadline(timeout: float | None) -> float:
    return math.inf if timeout is None else trio.current_time() + timeout


async def ask_all(
    requests: Sequence[tuple[ActorRef, Any]], *, timeout: float | None = 5.0
) -> list[Any]:
    """Ask several actors at once and wait for every answer: the scatter-gather a client
    does to the nodes of a cluster. All requests go out before the first wait, so actors
    answer side by side in one pass of the scheduler instead of one after another.

    Returns, in order, each reply or the `AskFailed` that took its place (as ``ask``
    would have raised it); other errors propagate.
    """
    deadline = _deadline(timeout)  # one for all: full mailboxes do not add up
    sent: list[tuple[ActorRef, Ask | AskFailed]] = []
    try:
        for ref, request in requests:
            try:
                sent.append((ref, await ref._send(request, deadline, timeout)))
            except AskFailed as exc:
                sent.append((ref, exc))
        for _, message in sent:
            if isinstance(message, Ask) and not message.finished:
                await message.wait()
    finally:
        for ref, message in sent:
            if isinstance(message, Ask):
                ref._settle(message, deadline)
    answers: list[Any] = []
    for ref, message in sent:
        if isinstance(message, AskFailed):
            answers.append(message)
            continue
        try:
            answers.append(ref._outcome(message, timeout))
        except AskFailed as exc:
            answers.append(exc)
    return answers
