"""The embedded stores kept in a directory: recovered at start-up, repaired where a crash
cut a write short, journaled while they run, snapshotted from time to time and at a clean
stop.

One journal holds every store's changes, each entry tagged with its store's name, so the
order on disk is the order in which they were applied, across stores. The directory holds
``journal/`` (`Journal` segments, locked while open) and ``snapshots/``.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import trio

from actors import Actor, ActorRef, ActorSpec, ActorSystem, SupervisorSpec, Ticker
from storage.protocols import LogUnavailable

from .codec import Codec
from .files import Fsync
from .horizon import HORIZON, MARK_EVERY, STEP_LIMIT, Horizon, marks_needed
from .journal import SEGMENT_BYTES, Journal, JournalError
from .journaled import Unchanged, journal_calls, replay
from .records import records_codec
from .snapshots import latest_snapshot, prune_snapshots, snapshot_seqs, write_snapshot

logger = logging.getLogger("storage.durable")

#: Journal entries after which a snapshot is due (checked every `CHECK_EVERY` seconds, and
#: at start-up after the replay).
SNAPSHOT_EVERY = 200_000
CHECK_EVERY = 10.0
KEEP_SNAPSHOTS = 2
_REPLAY_CHECKPOINT = 10_000  # entries replayed between checkpoints (a signal can land)
SNAPSHOT_IF_DUE = "snapshot-if-due"

T = TypeVar("T")

Entries = Iterator[tuple[int, list[Any]]]
"""Journal entries with their seqs, oldest first: ``[store, method, args, kwargs]`` each."""


class DurableStore(Protocol):
    """A store whose whole state can be copied out and loaded back. It is journaled either
    by its ``MUTATIONS`` (calls wrapped by `journal_calls`) or, if it has ``journal_to``,
    by itself (the event log journals where its partition actors append)."""

    def snapshot_state(self) -> Any:
        """A copy of the state that nothing will change later, taken without awaiting."""
        ...

    def restore_state(self, state: Any) -> None:
        """Load a `snapshot_state` into this store, which holds nothing yet."""
        ...


class RecoveryFailed(Exception):
    """The directory's snapshot and journal do not make a state: an entry that does not
    apply, or a snapshot the journal does not reach. Nothing is repaired silently."""


@dataclass(frozen=True)
class Recovery:
    """How start-up went: the snapshot loaded (its seq, 0 for none), the journal entries
    replayed after it, and the seconds each part took."""

    snapshot_seq: int
    replayed: int
    snapshot_seconds: float
    replay_seconds: float


class DurableStores:
    """Stores kept durable in one directory. Open with `DurableStores.open`; run
    `supervisor_spec` in the actor tree while the stores are in use, and `attach` the
    system built from it."""

    def __init__(
        self,
        directory: Path,
        journal: Journal,
        stores: Mapping[str, DurableStore],
        codec: Codec,
        *,
        snapshot_every: int,
        snapshot_seq: int,
        fsync: Fsync,
        horizon: Horizon,
        mark_every: float,
        unchanged: Mapping[str, Mapping[str, Unchanged]],
    ) -> None:
        """Private: use `DurableStores.open`."""
        self.directory = directory
        self.journal = journal
        self._stores = {**stores, HORIZON: horizon}
        self._codec = codec
        self._snapshot_every = snapshot_every
        self._snapshot_seq = snapshot_seq
        self._fsync = fsync
        self._snapshotting = trio.Lock()
        self._snapshotter: list[ActorRef] = []
        self._horizon = horizon
        self._mark_every = mark_every
        self._unchanged = unchanged
        self.recovery = Recovery(0, 0, 0.0, 0.0)

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        directory: os.PathLike[str] | str,
        stores: Mapping[str, DurableStore],
        *,
        snapshot_every: int = SNAPSHOT_EVERY,
        segment_bytes: int = SEGMENT_BYTES,
        fsync: Fsync = os.fsync,
        unchanged: Mapping[str, Mapping[str, Unchanged]] | None = None,
        step_limit: float = STEP_LIMIT,
        mark_every: float = MARK_EVERY,
    ) -> AsyncIterator[DurableStores]:
        """Recover ``stores`` (fresh and empty, by name) from ``directory`` (created if
        missing): the newest intact snapshot, then every journal entry after it, applied in
        order; then journal them from here on, and snapshot at once if the replay was
        longer than ``snapshot_every`` entries. The caller then `repair`\\ s what a crash
        cut short, before the stores serve.

        On leaving normally (the stores no longer changing: stop the actor tree first), a
        final snapshot makes the next start-up quick; on leaving by an exception or a
        cancellation the journal is simply closed, as a crash would leave it, and the next
        start-up replays it. Raises `RecoveryFailed`, `storage.durable.JournalCorrupt` or
        `storage.durable.JournalInUse` (another process has the directory) before yielding.

        ``unchanged``: per store, the methods whose answer can say they changed nothing, and
        how (`storage.durable.journaled.journal_calls`); such calls are not journaled.
        ``step_limit``: the longest any write waits between one of its steps being durable
        and its next step being journaled; with ``mark_every``, it sets how far back
        `repair` reads (`storage.durable.horizon`). The store name ``durable`` is the
        journal's own (`ValueError`)."""
        directory = Path(directory)
        if HORIZON in stores:
            raise ValueError(f"the store name {HORIZON!r} is the journal's own")
        horizon = Horizon(marks_needed(step_limit, mark_every))
        codec = records_codec()
        started = time.perf_counter()
        found = await latest_snapshot(directory / "snapshots", codec=codec)
        snapshot_seq = 0
        if found is not None:
            snapshot_seq, state = found
            missing = stores.keys() - state.keys()
            if missing:
                raise RecoveryFailed(f"snapshot {snapshot_seq} holds no state for {missing}")
            for name, store in stores.items():
                store.restore_state(state[name])
            if HORIZON in state:  # absent from a snapshot written before there were marks
                horizon.restore_state(state[HORIZON])
        loaded = time.perf_counter()
        journal = await Journal.open(
            directory / "journal", codec=codec, segment_bytes=segment_bytes, fsync=fsync
        )
        try:
            replayed = await _replay(journal, {**stores, HORIZON: horizon}, snapshot_seq)
            durable = cls(
                directory,
                journal,
                stores,
                codec,
                snapshot_every=snapshot_every,
                snapshot_seq=snapshot_seq,
                fsync=fsync,
                horizon=horizon,
                mark_every=mark_every,
                unchanged=unchanged or {},
            )
            durable.recovery = Recovery(
                snapshot_seq, replayed, loaded - started, time.perf_counter() - loaded
            )
            logger.info(
                "recovered %s: snapshot at entry %d (%.2f s), %d journal entries after it (%.2f s)",
                directory,
                snapshot_seq,
                durable.recovery.snapshot_seconds,
                replayed,
                durable.recovery.replay_seconds,
            )
            durable._journal_changes()
            if replayed >= snapshot_every:
                await durable.snapshot()  # everything replayed is durable: no flusher needed
            yield durable
        except BaseException:
            journal.close()
            raise
        # A clean stop: the tree (and the flusher in it) has stopped. Flush what is left
        # with a flusher of our own, then snapshot, so the next start-up reads no journal.
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(journal.run)
                await durable.snapshot()
                nursery.cancel_scope.cancel()
        finally:
            journal.close()

    def supervisor_spec(self, *, max_restarts: int = 100, within: float = 10.0) -> SupervisorSpec:
        """``durable``: the journal's flusher (``durable.journal``; nothing is acknowledged
        while it is down), the snapshotter (``durable.snapshots``), which snapshots once
        `snapshot_every` entries have been journaled since the last, the ticker that asks
        it every `CHECK_EVERY` seconds, and the marker (``durable.marks``) that journals
        the marks bounding the next start-up's `repair`. Start it before anything that
        changes the stores, so it stops after them."""
        return SupervisorSpec(
            "durable",
            [
                ActorSpec("durable.journal", lambda: _Flusher(self.journal)),
                ActorSpec("durable.snapshots", lambda: _Snapshotter(self)),
                ActorSpec(
                    "durable.ticker",
                    lambda: Ticker(lambda: self._snapshotter, SNAPSHOT_IF_DUE, CHECK_EVERY),
                ),
                ActorSpec(
                    "durable.marks", lambda: _Marker(self.journal, self._horizon, self._mark_every)
                ),
            ],
            max_restarts=max_restarts,
            within=within,
        )

    def attach(self, system: ActorSystem) -> None:
        """Find the snapshotter in ``system`` (built from `supervisor_spec`)."""
        self._snapshotter = [system.ref("durable.snapshots")]

    async def settled(self) -> None:
        """Return once every entry journaled so far is durable."""
        last = self.journal.next_seq - 1
        if last:
            await self.journal.durable(last)
        else:
            await trio.lowlevel.checkpoint()

    @property
    def snapshot_due(self) -> bool:
        return self.journal.next_seq - 1 - self._snapshot_seq >= self._snapshot_every

    @property
    def horizon(self) -> int:
        """Every journaled step of a write still in flight comes after this seq
        (`storage.durable.horizon`): what `repair` would read after a crash now."""
        return self._horizon.start

    async def repair(self, fix: Callable[[Entries], Awaitable[T]]) -> T:
        """Start-up's last step, before the stores serve: ``fix`` the writes a crash cut
        short, then record that none is left, and return what ``fix`` returned.

        ``fix`` gets the journal entries after `horizon`, oldest first, read from disk as
        it iterates (every step a write in flight at the crash journaled is among them; so
        are the marks and the notes of `note_refusals`, under the store name ``durable``),
        and may change the stores: its calls are journaled like any other, and it runs with
        a flusher of its own, so they become durable. Once it returns and its entries are
        durable, a ``clear`` entry moves the horizon past them, so a later start-up reads
        none of this again; a crash before that, and the next start-up repairs from the same
        horizon, so ``fix`` must be idempotent. Call it before the actor tree runs
        (`RuntimeError`: the journal has one flusher at a time); an exception or a
        cancellation in ``fix`` propagates, nothing cleared."""
        after = max(self._horizon.start, self.journal.first_seq - 1)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.journal.run)
            result = await fix(self.journal.replay(after))
            self._horizon.clear(self.journal.next_seq)
            await self.journal.durable(self.journal.next_seq - 1)
            nursery.cancel_scope.cancel()
        return result

    def note_refusals(self, log: Any) -> None:
        """Journal a note (``durable.refused``: topic, key, event) each time ``log``'s
        ``publish`` raises `storage.protocols.LogUnavailable`, as the refusal reaches the
        caller. A caller that undoes its change then journals the undo right after the
        note, with nothing between, so `repair` can tell an undo from a change in flight.
        Wraps this ``log`` instance's ``publish``; its class, and other instances, are
        untouched."""
        publish = log.publish
        horizon = self._horizon

        @functools.wraps(publish)
        async def noted(topic: str, key: Any, event: Any) -> Any:
            try:
                return await publish(topic, key, event)
            except LogUnavailable:
                try:
                    horizon.refused(topic, key, event)
                except (JournalError, TypeError, ValueError):
                    pass  # the refusal is what the caller must hear; the undo will fail too
                raise

        log.publish = noted

    async def snapshot(self) -> int:
        """Snapshot every store as of the newest journal entry, then delete the snapshots
        and journal segments no longer needed (the `KEEP_SNAPSHOTS` newest stay, and the
        journal from the oldest of them, or from the `horizon` if that is older). Returns
        the snapshot's seq.

        The state is copied at once, with no checkpoint since the newest entry was
        appended; then, once that entry is durable (a snapshot is never ahead of the
        journal), it is written in a worker thread while the stores carry on. Needs the
        flusher running, unless every entry is durable already."""
        async with self._snapshotting:
            seq = self.journal.next_seq - 1
            if seq == self._snapshot_seq:
                return seq
            state = {name: store.snapshot_state() for name, store in self._stores.items()}
            await self.journal.durable(seq)
            folder = self.directory / "snapshots"
            await write_snapshot(folder, seq, state, fsync=self._fsync, codec=self._codec)
            await prune_snapshots(folder, KEEP_SNAPSHOTS, fsync=self._fsync)
            # A repair after a crash reads from the horizon: keep that much, snapshot or not.
            keep = min(min(await snapshot_seqs(folder)), self._horizon.start)
            await self.journal.truncate_before(keep + 1)
            self._snapshot_seq = seq
            logger.info("snapshot of %s at entry %d", self.directory, seq)
            return seq

    def _journal_changes(self) -> None:
        journal = self.journal
        for name, store in self._stores.items():
            journal_to = getattr(store, "journal_to", None)
            if journal_to is not None:
                journal_to(_tagged(journal, name), journal.durable)
            else:
                journal_calls(
                    store,
                    name,
                    journal,
                    store.MUTATIONS,  # type: ignore[attr-defined]
                    unchanged=self._unchanged.get(name),
                )


async def _replay(journal: Journal, stores: Mapping[str, Any], after: int) -> int:
    if journal.next_seq <= after:
        raise RecoveryFailed(
            f"the snapshot covers entries up to {after}, but the journal ends at entry "
            f"{journal.next_seq - 1}: the journal was damaged or replaced"
        )
    replayed = 0
    try:
        entries = journal.replay(after)
    except ValueError as exc:  # truncated past the snapshot
        raise RecoveryFailed(str(exc)) from exc
    for seq, entry in entries:
        try:
            replay(stores, entry)
        except Exception as exc:
            raise RecoveryFailed(
                f"journal entry {seq} ({entry[:2]}) does not apply: {exc!r}"
            ) from exc
        replayed += 1
        if replayed % _REPLAY_CHECKPOINT == 0:
            await trio.lowlevel.checkpoint()
    return replayed


def _tagged(journal: Journal, name: str) -> Any:
    def record(method: str, args: list[Any]) -> int:
        return journal.append([name, method, args, {}])

    return record


class _Flusher(Actor):
    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        await self._journal.run(task_status=task_status)

    def describe(self) -> dict[str, Any]:
        journal = self._journal
        return {"next_seq": journal.next_seq, "durable_through": journal.durable_through}


class _Snapshotter(Actor):
    def __init__(self, durable: DurableStores) -> None:
        self._durable = durable

    async def receive(self, message: Any) -> None:
        if message == SNAPSHOT_IF_DUE and self._durable.snapshot_due:
            await self._durable.snapshot()


class _Marker(Actor):
    """Journals a mark every ``every`` seconds while anything else is journaled, each once
    the one before it is durable (`storage.durable.horizon` says why both matter)."""

    def __init__(self, journal: Journal, horizon: Horizon, every: float) -> None:
        self._journal = journal
        self._horizon = horizon
        self._every = every

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        journal, horizon = self._journal, self._horizon
        task_status.started()
        last = horizon.last_mark
        if last:  # an earlier incarnation's mark, perhaps not durable yet
            await journal.durable(last)
        while True:
            await trio.sleep(self._every)
            if journal.next_seq - 1 > last:
                last = journal.next_seq
                horizon.mark(last)  # journaled as entry ``last``
                await journal.durable(last)

    def describe(self) -> dict[str, Any]:
        return {"horizon": self._horizon.start, "last_mark": self._horizon.last_mark}
