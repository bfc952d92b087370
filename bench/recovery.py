"""``python -m bench recovery``: start-up time of the durable embedded mode (``--data-dir``).

A journal of ``--events`` log appends (1,000,000 by default), shaped as chirp's own: each
a ``tweet_created`` event of about 200 bytes, keyed by its author, appended to the event
log's partitions. Then chirp's stores are recovered from it, twice:

- from the journal alone (no snapshot): every entry decoded and applied; beside it, in
  the same run, the time to read the journal's bytes from the page cache, and to read and
  decode every entry without applying it;
- from a snapshot of that state, taken after the replay: beside it, the time to read the
  snapshot file's bytes.

Figures are events per second (the start-up seconds are in the text), each with its
ceiling's ratio: how far recovery is from what merely reading the same bytes costs.

Then what journaling costs the write path: tweets posted through the services (as
``python -m bench write``) with a data directory, against the same in memory.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import msgpack
import trio

from chirp.backends import embedded, kept_stores
from chirp.config import Settings
from storage.durable import DurableStores, Journal, records_codec
from storage.partitioning import partition_for

from .results import Figure, Section, figures_table
from .write import tweets_per_second

EVENTS = 1_000_000
TWEETS = 5_000  # per run of the write path, with and without a data directory
BATCH = 10_000  # appends per group commit while writing
AUTHORS = 10_000
START = 1_800_000_000.0


def fresh_stores() -> dict[str, object]:
    return kept_stores(embedded(Settings()))


async def write_journal(directory: Path, events: int) -> None:
    """``events`` log appends, as the partition actors journal them."""
    partitions = Settings().partitions["tweet_created"]
    pack = msgpack.Packer().pack
    with await Journal.open(directory / "journal", codec=records_codec()) as journal:
        async with trio.open_nursery() as nursery:
            await nursery.start(journal.run)
            for n in range(events):
                author = n % AUTHORS
                event = {
                    "tweet_id": 10**15 + n,
                    "user_id": author,
                    "content": f"tweet number {n} about #bench and the weather in town",
                    "hashtags": ["bench"],
                    "mentions": [],
                    "reply_to": None,
                    "retweet_of": None,
                    "created_at": int(START * 1000) + n,
                    "edited_at": None,
                    "version": int(START * 1_000_000) + n,
                }
                partition = partition_for(author, partitions)
                args = ["tweet_created", partition, str(author), pack(event), START + n / 1000]
                seq = journal.append(["log", "append_at", args, {}])
                if seq % BATCH == 0:
                    await journal.durable(seq)
            await journal.durable(journal.next_seq - 1)
            nursery.cancel_scope.cancel()


def read_bytes(folder: Path) -> int:
    return sum(len(path.read_bytes()) for path in sorted(folder.iterdir()))


async def decode_only(directory: Path) -> int:
    with await Journal.open(directory / "journal", codec=records_codec()) as journal:
        return sum(1 for _ in journal.replay())


async def recover(directory: Path) -> tuple[float, DurableStores]:
    """Seconds from nothing to stores ready, and the recovery's own account. Leaves by an
    exception so that no final snapshot is written."""
    started = time.perf_counter()
    taken: list[tuple[float, DurableStores]] = []

    class Done(Exception):
        pass

    try:
        async with DurableStores.open(directory, fresh_stores(), snapshot_every=2**62) as durable:
            taken.append((time.perf_counter() - started, durable))
            raise Done
    except Done:
        pass
    return taken[0]


def timed(work) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


async def measure(events: int, directory: Path) -> tuple[list[Figure], str]:
    started = time.perf_counter()
    await write_journal(directory, events)
    written = time.perf_counter() - started
    journal_bytes = read_bytes(directory / "journal")
    read_seconds = min(timed(lambda: read_bytes(directory / "journal")) for _ in range(3))
    decode_started = time.perf_counter()
    assert await decode_only(directory) == events
    decode_seconds = time.perf_counter() - decode_started
    replay_seconds, durable = await recover(directory)
    assert durable.recovery.replayed == events

    # The same state as a snapshot: recovered once more, the snapshot taken, then reopened.
    stores = fresh_stores()
    async with DurableStores.open(directory, stores, snapshot_every=2**62) as durable:
        snapshot_started = time.perf_counter()
        await durable.snapshot()
        snapshot_write = time.perf_counter() - snapshot_started
    snapshot_bytes = read_bytes(directory / "snapshots")
    snapshot_read = min(timed(lambda: read_bytes(directory / "snapshots")) for _ in range(3))
    from_snapshot, durable = await recover(directory)
    assert durable.recovery.replayed == 0 and durable.recovery.snapshot_seq == events

    figures = [
        Figure(
            f"start-up, {events:,} journaled events",
            events / replay_seconds,
            "events/s",
            "reading the journal's bytes",
            events / read_seconds,
        ),
        Figure(
            "start-up, the same journaled",
            events / replay_seconds,
            "events/s",
            "decoding every entry, unapplied",
            events / decode_seconds,
        ),
        Figure(
            "start-up, the same from a snapshot",
            events / from_snapshot,
            "events/s",
            "reading the snapshot's bytes",
            events / snapshot_read,
        ),
    ]
    notes = "\n".join(
        [
            f"journal: {events:,} entries, {journal_bytes / 2**20:,.1f} MiB, written in "
            f"{written:.1f} s (groups of {BATCH:,} per fsync)",
            f"start-up from the journal alone: {replay_seconds:.2f} s "
            f"(reading its bytes {read_seconds:.3f} s; decoding every entry "
            f"{decode_seconds:.2f} s)",
            f"snapshot: {snapshot_bytes / 2**20:,.1f} MiB, written in {snapshot_write:.2f} s; "
            f"start-up from it: {from_snapshot:.2f} s (reading its bytes {snapshot_read:.3f} s)",
        ]
    )
    return figures, notes


async def write_costs(tweets: int, repeat: int, directory: Path) -> list[Figure]:
    """Tweets through the service layer, the whole tree running, kept in a data directory
    (a fresh one each run) against the same in memory, runs alternating."""
    figures = []
    for writers in (1, 64):
        kept, memory = [], []
        for run in range(repeat):
            memory.append(await tweets_per_second(tweets, writers))
            kept.append(await tweets_per_second(tweets, writers, directory / f"{writers}-{run}"))
        figures.append(
            Figure(
                f"tweets posted, {writers} writer(s), --data-dir",
                statistics.median(kept),
                "tweets/s",
                "the same, in memory",
                statistics.median(memory),
            )
        )
    return figures


def section(events: int = EVENTS, tweets: int = TWEETS, repeat: int = 3) -> Section:
    directory = Path(tempfile.mkdtemp(prefix="chirp-recovery-"))
    try:
        figures, notes = trio.run(partial(measure, events, directory / "start-up"))
        figures += trio.run(partial(write_costs, tweets, repeat, directory / "writes"))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    text = figures_table(figures) + "\n\n" + notes
    return Section("recovery", "Start-up of the durable embedded mode", figures, text)


def main(events: int, tweets: int, repeat: int) -> None:
    print(section(events, tweets, repeat).text)
