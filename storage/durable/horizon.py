"""How far back in the journal a start-up must look for writes a crash cut short.

A write that changes several stores (store the tweet, then append its event) journals one
entry per step, and a crash between two steps leaves it half done. Only writes in flight
at the crash can be half done, and `Horizon.start` bounds where their steps are: every
step of theirs that reached the disk comes after it. A start-up reads the entries after it
(`DurableStores.repair`) and nothing older, however much the stores hold.

The bound comes from marks: journal entries the ``durable.marks`` actor appends, each
recording its own seq, at most once every ``mark_every`` seconds, only once the mark before
it is durable, and only if something else was journaled since. A write takes each step
within ``step_limit`` seconds of its previous step being durable (chirp's wait at most the
log's publish timeout there), so with ``kept`` > step_limit / mark_every + 1 marks:

    Let s be the last step of a write in flight at the crash that reached the disk, and M
    the oldest of the newest ``kept`` marks on disk. Were s before M, s was durable when M
    was; the ``kept`` - 1 newer marks were each appended at least ``mark_every`` after the
    one before was durable, so the newest was appended more than ``step_limit`` after s was
    durable, after the write had appended its next step. The disk holds a prefix of the
    journal, so that next step would be on disk, and s not the last: s comes after M.

It holds whatever happened to time meanwhile: a stalled fsync or a blocked event loop
delays the marks as much as the write, and a snapshot taken mid-write changes nothing (a
snapshot is not a bound: a write may straddle it). `clear` records the other bound: a
start-up that has repaired everything clears up to its own entry, and nothing before that
entry can be in flight later. Snapshots keep the journal from `Horizon.start` on.

The entries of this store, named `HORIZON` in the journal: ``mark(seq)`` and
``clear(seq)`` (each recording its own seq), and ``refused(topic, key, event)``, a note
that the log refused to append ``event`` (`DurableStores.note_refusals`): the caller's undo
follows it, with no other entry between. Replaying a note changes nothing.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar

#: The name the horizon's entries carry in the journal, and its state in snapshots.
HORIZON = "durable"

#: The longest a write may wait between one of its steps being durable and journaling its
#: next step, by default (`DurableStores.open` takes the caller's figure).
STEP_LIMIT = 15.0
#: Seconds between marks, at least.
MARK_EVERY = 1.0


def marks_needed(step_limit: float, mark_every: float) -> int:
    """How many marks back `Horizon.start` must reach: the newest of them must come more
    than ``step_limit`` after the oldest was durable, and one more makes up for a blocked
    event loop waking the marker before a write whose deadline passed meanwhile."""
    if step_limit <= 0 or mark_every <= 0:
        raise ValueError("step_limit and mark_every must be positive")
    return math.floor(step_limit / mark_every) + 3


class Horizon:
    """The marks and the cleared point, kept as a store of the journal's own (journaled,
    replayed and snapshotted with the others). Its mutations are synchronous: each is
    journaled at once, and its caller waits for the entry if it must."""

    MUTATIONS: ClassVar[tuple[str, ...]] = ("mark", "clear", "refused")

    def __init__(self, kept: int) -> None:
        if kept < 1:
            raise ValueError("kept must be at least 1")
        self._marks: deque[int] = deque(maxlen=kept)
        self._cleared = 0

    def mark(self, seq: int) -> None:
        """Record the mark that is journal entry ``seq``."""
        self._marks.append(seq)

    def clear(self, seq: int) -> None:
        """Record that no write journaled before entry ``seq`` (this one) is still in flight."""
        self._cleared = seq

    def refused(self, topic: str, key: Any, event: Any) -> None:
        """Nothing to record: the journal entry is the note."""

    @property
    def start(self) -> int:
        """Every step a write in flight now has journaled, or will, comes after this seq (0:
        the journal holds too few marks to say, so from its beginning)."""
        marks = self._marks
        oldest = marks[0] if len(marks) == marks.maxlen else 0
        return max(self._cleared, oldest)

    @property
    def last_mark(self) -> int:
        """The newest mark's seq (0 for none)."""
        return self._marks[-1] if self._marks else 0

    def snapshot_state(self) -> dict[str, Any]:
        return {"marks": list(self._marks), "cleared": self._cleared}

    def restore_state(self, state: dict[str, Any]) -> None:
        self._marks.extend(state["marks"])
        self._cleared = state["cleared"]
