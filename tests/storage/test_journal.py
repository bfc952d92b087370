"""The durable journal: round trips, segments, group commit, torn tails, corruption, failure,
and a real kill -9."""

from __future__ import annotations

import errno
import logging
import os
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.durable import Codec, Journal, JournalCorrupt, JournalFailed, JournalInUse
from storage.durable.frames import HEADER, encode_frame

from .journal_writer import SEGMENT_BYTES as WRITER_SEGMENT_BYTES
from .journal_writer import TASKS as WRITER_TASKS
from .journal_writer import entry

ROOT = Path(__file__).resolve().parents[2]


class CountingFsync:
    """os.fsync that counts its calls, file and directory apart, and can be held on a gate
    (the file fsyncs from ``hold_from`` on wait until ``gate`` is set) or made to fail."""

    def __init__(self) -> None:
        self.files = 0
        self.directories = 0
        self.gate = trio.Event()
        self.hold_from: int | None = None
        self.broken = False

    def __call__(self, fd: int) -> None:
        if self.broken:
            raise OSError(errno.EIO, "injected fsync failure")
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            self.directories += 1
        else:
            self.files += 1
            if self.hold_from is not None and self.files >= self.hold_from:
                trio.from_thread.run(self.gate.wait)  # we are in the flusher's worker thread
        os.fsync(fd)


@asynccontextmanager
async def running(journal: Journal) -> AsyncIterator[Journal]:
    """The journal with its flusher running; the flusher is cancelled on the way out."""
    async with trio.open_nursery() as nursery:
        await nursery.start(journal.run)
        yield journal
        nursery.cancel_scope.cancel()


async def write(directory: Path, values: Sequence[Any], **options: Any) -> list[int]:
    """Open, append ``values``, wait until they are durable, close; their seqs."""
    with await Journal.open(directory, **options) as journal:
        async with running(journal):
            seqs = [journal.append(value) for value in values]
            if seqs:
                await journal.durable(seqs[-1])
    return seqs


async def read(directory: Path, **options: Any) -> list[tuple[int, Any]]:
    """Every entry the journal in ``directory`` holds, after reopening it."""
    with await Journal.open(directory, **options) as journal:
        return list(journal.replay(journal.first_seq - 1))


def segment_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


VALUES = [
    {"tweet": 1, "text": "hello"},
    [1, 2.5, None, True, b"\x00\xff"],
    {7: "an int key", "nested": {"deep": [1, [2, [3]]]}},
    "x" * 300,
    2**64 - 1,
    -(2**63),
]


async def test_entries_round_trip_across_reopen_and_seqs_continue(tmp_path: Path) -> None:
    assert await write(tmp_path, VALUES) == [1, 2, 3, 4, 5, 6]
    assert await read(tmp_path) == list(enumerate(VALUES, start=1))
    assert await write(tmp_path, ["more", "again"]) == [7, 8]
    with await Journal.open(tmp_path) as journal:
        assert journal.next_seq == 9
        assert journal.durable_through == 8
        assert [value for _, value in journal.replay()] == [*VALUES, "more", "again"]


@dataclass(frozen=True)
class Mention:
    user_id: int


async def test_a_codec_carries_the_callers_records(tmp_path: Path) -> None:
    codec = Codec(
        default=lambda mention: msgpack.ExtType(7, msgpack.packb(mention.user_id)),
        ext_hook=lambda code, data: Mention(msgpack.unpackb(data)),
    )
    await write(tmp_path, [Mention(1), {"inside": [Mention(2)]}], codec=codec)
    assert await read(tmp_path, codec=codec) == [(1, Mention(1)), (2, {"inside": [Mention(2)]})]


async def test_replay_after_skips_the_entries_up_to_it(tmp_path: Path) -> None:
    await write(tmp_path, list(range(1, 31)), segment_bytes=40)
    with await Journal.open(tmp_path) as journal:
        for after in range(0, 32):
            assert list(journal.replay(after)) == [(n, n) for n in range(after + 1, 31)]


async def test_replay_is_lazy(tmp_path: Path) -> None:
    await write(tmp_path, list(range(1, 101)), segment_bytes=64)
    with await Journal.open(tmp_path) as journal:
        entries = journal.replay()
        assert next(entries) == (1, 1)
        for segment in segment_files(tmp_path)[1:]:
            segment.write_bytes(b"garbage")  # not read yet, so not noticed yet
        assert next(entries) == (2, 2)
        with pytest.raises(JournalCorrupt):
            list(entries)


async def test_an_empty_journal_opens_at_seq_1(tmp_path: Path) -> None:
    directory = tmp_path / "new" / "journal"
    with await Journal.open(directory) as journal:
        assert (journal.first_seq, journal.next_seq, journal.durable_through) == (1, 1, 0)
        assert list(journal.replay()) == []
    assert [path.name for path in segment_files(directory)] == ["00000000000000000001.seg"]


async def test_segments_roll_over_and_truncate_before_removes_only_whole_segments(
    tmp_path: Path,
) -> None:
    fsync = CountingFsync()
    frame_bytes = len(encode_frame(b"\x01"))  # every value below packs to one byte
    seqs = await write(tmp_path, [n % 100 for n in range(1, 21)], segment_bytes=4 * frame_bytes)
    assert seqs == list(range(1, 21))
    names = [path.name for path in segment_files(tmp_path)]
    assert names == [f"{first:020d}.seg" for first in (1, 5, 9, 13, 17)]
    assert all(path.stat().st_size == 4 * frame_bytes for path in segment_files(tmp_path))

    with await Journal.open(tmp_path, fsync=fsync) as journal:
        directory_fsyncs = fsync.directories
        assert await journal.truncate_before(8) == 5  # 5..8 share a segment with 8: kept
        assert fsync.directories == directory_fsyncs + 1
        assert [path.name for path in segment_files(tmp_path)][0] == f"{5:020d}.seg"
        assert list(journal.replay(7)) == [(n, n) for n in range(8, 21)]
        assert [seq for seq, _ in journal.replay(4)] == list(range(5, 21))
        with pytest.raises(ValueError, match="truncate_before"):
            journal.replay(3)
        # The segment being written is never removed, however far the cut.
        assert await journal.truncate_before(1000) == 17
        assert journal.next_seq == 21

    with await Journal.open(tmp_path) as journal:  # the cut survives a reopen
        assert (journal.first_seq, journal.next_seq) == (17, 21)
        assert list(journal.replay(16)) == [(n, n) for n in range(17, 21)]


async def test_a_roll_fsyncs_the_directory(tmp_path: Path) -> None:
    fsync = CountingFsync()
    frame_bytes = len(encode_frame(b"\x01"))
    with await Journal.open(tmp_path, segment_bytes=2 * frame_bytes, fsync=fsync) as journal:
        assert fsync.directories == 1  # the first segment
        async with running(journal):
            for n in range(6):
                await journal.durable(journal.append(n))
        assert fsync.directories == 3  # and segments 3 and 5
        assert fsync.files == 6  # one per entry: none of them waited together


async def test_group_commit_one_fsync_covers_every_waiting_append(tmp_path: Path) -> None:
    fsync = CountingFsync()
    acknowledged: list[int] = []
    with await Journal.open(tmp_path, fsync=fsync) as journal:
        opening_fsyncs = fsync.files

        async def append_and_wait(n: int) -> None:
            seq = journal.append(n)
            await journal.durable(seq)
            acknowledged.append(seq)

        fsync.hold_from = opening_fsyncs + 1  # the flusher's first fsync waits on the gate
        async with running(journal), trio.open_nursery() as appenders:
            appenders.start_soon(append_and_wait, 0)
            await trio.testing.wait_all_tasks_blocked()  # the flusher took entry 1 alone
            for n in range(1, 50):
                appenders.start_soon(append_and_wait, n)
            await trio.testing.wait_all_tasks_blocked()
            assert acknowledged == []  # nothing is acknowledged before its fsync returns
            fsync.gate.set()
        assert sorted(acknowledged) == list(range(1, 51))
        assert fsync.files - opening_fsyncs == 2  # entry 1, then the 49 that queued behind it
        assert sorted(value for _, value in journal.replay()) == list(range(50))


async def test_appends_reach_the_disk_in_the_order_of_the_calls(tmp_path: Path) -> None:
    order: list[tuple[int, int]] = []  # (seq, task) as the calls were made
    with await Journal.open(tmp_path) as journal:

        async def appender(task: int) -> None:
            for n in range(20):
                order.append((journal.append([task, n]), task))
                await trio.lowlevel.checkpoint()

        async with running(journal):
            async with trio.open_nursery() as appenders:
                for task in range(5):
                    appenders.start_soon(appender, task)
            await journal.durable(journal.next_seq - 1)
        entries = list(journal.replay())
    assert [seq for seq, _ in entries] == [seq for seq, _ in order] == list(range(1, 101))
    assert [value[0] for _, value in entries] == [task for _, task in order]


async def test_a_failed_fsync_fails_its_waiters_and_every_later_append(tmp_path: Path) -> None:
    fsync = CountingFsync()
    outcomes: dict[int, str] = {}
    journal = await Journal.open(tmp_path, fsync=fsync)

    async def append_and_wait(n: int) -> None:
        seq = journal.append(n)
        try:
            await journal.durable(seq)
            outcomes[n] = "durable"
        except JournalFailed:
            outcomes[n] = "failed"

    async def flusher() -> None:
        with pytest.raises(JournalFailed, match=r"writing entries 2\.\.\d+ failed"):
            await journal.run()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(flusher)
        await append_and_wait(0)
        fsync.broken = True
        for n in range(1, 11):
            nursery.start_soon(append_and_wait, n)
    assert outcomes == {0: "durable", **{n: "failed" for n in range(1, 11)}}
    with pytest.raises(JournalFailed):
        journal.append(11)
    with pytest.raises(JournalFailed):
        await journal.run()
    await journal.durable(1)  # acknowledged before the failure: still true
    journal.close()

    fsync.broken = False
    entries = await read(tmp_path)
    # The failed batch was written before its fsync failed, so it may be there: never acknowledged,
    # it may be lost or kept, but it is never garbage.
    assert entries[0] == (1, 0)
    assert [seq for seq, _ in entries] == list(range(1, len(entries) + 1))
    assert sorted(value for _, value in entries) == list(range(len(entries)))


async def test_a_cancelled_flusher_finishes_its_batch_and_a_new_one_carries_on(
    tmp_path: Path,
) -> None:
    fsync = CountingFsync()
    with await Journal.open(tmp_path, fsync=fsync) as journal:
        fsync.hold_from = fsync.files + 1
        acknowledged: list[int] = []

        async def append_and_wait(n: int) -> None:
            seq = journal.append(n)
            await journal.durable(seq)
            acknowledged.append(seq)

        async with trio.open_nursery() as nursery:
            flusher = trio.CancelScope()

            async def flush() -> None:
                with flusher:
                    await journal.run()

            nursery.start_soon(flush)
            nursery.start_soon(append_and_wait, 0)
            await trio.testing.wait_all_tasks_blocked()  # entry 1 is in the held fsync
            nursery.start_soon(append_and_wait, 1)
            await trio.testing.wait_all_tasks_blocked()
            flusher.cancel()
            fsync.gate.set()
            await journal.durable(1)  # its batch finished despite the cancellation
            await trio.testing.wait_all_tasks_blocked()  # and the flusher ended
            assert acknowledged == [1]
            assert journal.durable_through == 1  # entry 2 waits for a flusher
            await nursery.start(journal.run)
            await journal.durable(2)
            await trio.testing.wait_all_tasks_blocked()
            assert acknowledged == [1, 2]
            nursery.cancel_scope.cancel()


async def test_closing_fails_the_waiters_and_later_appends(tmp_path: Path) -> None:
    journal = await Journal.open(tmp_path)
    seq = journal.append("never flushed")
    journal.close()
    journal.close()  # twice is harmless
    with pytest.raises(JournalFailed, match="closed"):
        await journal.durable(seq)
    with pytest.raises(JournalFailed, match="closed"):
        journal.append("after")


async def test_close_refuses_while_the_flusher_runs(tmp_path: Path) -> None:
    with await Journal.open(tmp_path) as journal:
        async with running(journal):
            with pytest.raises(RuntimeError, match="cancel"):
                journal.close()
            with pytest.raises(RuntimeError, match="one flusher"):
                await journal.run()


async def test_a_directory_is_held_by_one_journal_at_a_time(tmp_path: Path) -> None:
    with await Journal.open(tmp_path):
        with pytest.raises(JournalInUse):
            await Journal.open(tmp_path)
    with await Journal.open(tmp_path):
        pass


async def test_bad_appends_journal_nothing(tmp_path: Path) -> None:
    with await Journal.open(tmp_path, max_frame_bytes=100) as journal:
        with pytest.raises(TypeError):
            journal.append(object())
        with pytest.raises(ValueError, match="max_frame_bytes"):
            journal.append("x" * 200)
        assert journal.append("fine") == 1
        with pytest.raises(ValueError, match="never appended"):
            await journal.durable(2)


# Torn tails and corruption. The newest segment may end in a torn write (a crash between write
# and fsync): it is cut off. Anything wrong before that was acknowledged: JournalCorrupt.

TAIL = ["a", {"b": [1, 2, 3]}, "c" * 30]


async def tail_layout(directory: Path) -> tuple[Path, bytes, list[int]]:
    """Write 3 entries, then the 3 of TAIL; the segment, its bytes, and where each frame ends."""
    await write(directory, ["x", "y", "z", *TAIL])
    (segment,) = segment_files(directory)
    data = segment.read_bytes()
    ends, offset = [], 0
    while offset < len(data):
        (length, _) = HEADER.unpack_from(data, offset)
        offset += HEADER.size + length
        ends.append(offset)
    return segment, data, ends


async def recovers(
    directory: Path, segment: Path, damaged: bytes, whole_frames: int, good_bytes: int
) -> None:
    """Opening the damaged segment keeps the first ``whole_frames``, cuts the file there, and
    takes new appends that read back."""
    segment.write_bytes(damaged)
    expected = [(n, value) for n, value in enumerate(["x", "y", "z", *TAIL], start=1)]
    expected = expected[:whole_frames]
    with await Journal.open(directory) as journal:
        assert list(journal.replay()) == expected
        assert journal.next_seq == whole_frames + 1
    assert segment.stat().st_size == good_bytes
    assert await write(directory, ["after"]) == [whole_frames + 1]
    assert await read(directory) == [*expected, (whole_frames + 1, "after")]


async def test_every_torn_tail_is_cut_at_the_last_whole_frame(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    layout = await tail_layout(tmp_path / "original")
    _, data, ends = layout
    tail_start = ends[2]  # a batch's frames (TAIL's three here) may tear anywhere
    for cut in range(tail_start, len(data)):
        directory = tmp_path / f"cut-{cut}"
        directory.mkdir()
        whole = sum(1 for end in ends if end <= cut)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="storage.durable"):
            await recovers(
                directory, directory / layout[0].name, data[:cut], whole, ends[whole - 1]
            )
        dropped = cut - ends[whole - 1]
        if dropped:
            assert f"dropped the last {dropped} bytes" in caplog.text


async def test_a_flipped_byte_anywhere_in_the_last_frame_drops_that_frame(
    tmp_path: Path,
) -> None:
    segment, data, ends = await tail_layout(tmp_path / "original")
    for position in range(ends[-2], ends[-1]):
        directory = tmp_path / f"flip-{position}"
        directory.mkdir()
        damaged = bytearray(data)
        damaged[position] ^= 0x40
        await recovers(directory, directory / segment.name, bytes(damaged), 5, ends[-2])


async def test_a_tail_of_zeros_is_dropped(tmp_path: Path) -> None:
    # A crash can leave a file longer than the data that reached it, the rest read as zeros.
    segment, data, ends = await tail_layout(tmp_path)
    await recovers(tmp_path, segment, data + bytes(4096), 6, len(data))


async def test_damage_in_a_sealed_segment_is_corruption_not_a_torn_write(tmp_path: Path) -> None:
    await write(tmp_path, list(range(1, 13)), segment_bytes=len(encode_frame(b"\x01")) * 4)
    first, second, last = segment_files(tmp_path)
    damaged = bytearray(second.read_bytes())
    damaged[len(encode_frame(b"\x01")) + HEADER.size] ^= 0x01  # its second frame's payload
    second.write_bytes(bytes(damaged))
    with pytest.raises(JournalCorrupt) as raised:
        await Journal.open(tmp_path)
    assert raised.value.path == second
    assert raised.value.offset == HEADER.size + 1  # where its second frame begins
    assert "CRC" in str(raised.value) and str(second) in str(raised.value)
    assert len(second.read_bytes()) == len(damaged)  # and nothing was cut


async def test_a_sealed_segment_cut_at_a_frame_boundary_is_corruption(tmp_path: Path) -> None:
    frame_bytes = len(encode_frame(b"\x01"))
    await write(tmp_path, list(range(1, 13)), segment_bytes=frame_bytes * 4)
    first, second, last = segment_files(tmp_path)
    os.truncate(first, frame_bytes * 3)
    with pytest.raises(JournalCorrupt, match="next segment begins at entry 5"):
        await Journal.open(tmp_path)


async def test_a_missing_segment_is_corruption(tmp_path: Path) -> None:
    await write(tmp_path, list(range(1, 13)), segment_bytes=len(encode_frame(b"\x01")) * 4)
    segment_files(tmp_path)[1].unlink()
    with pytest.raises(JournalCorrupt, match="next segment begins at entry 9"):
        await Journal.open(tmp_path)


async def test_an_intact_frame_that_is_not_msgpack_fails_the_replay(tmp_path: Path) -> None:
    await write(tmp_path, ["ok"])
    (segment,) = segment_files(tmp_path)
    with open(segment, "ab") as file:
        file.write(encode_frame(b"\xc1"))  # a byte msgpack never uses
    with await Journal.open(tmp_path) as journal:
        entries = journal.replay()
        assert next(entries) == (1, "ok")
        with pytest.raises(JournalCorrupt, match="entry 2 does not decode"):
            next(entries)


# A real kill -9.


async def run_writer_until_killed(
    directory: Path, run: int, acknowledgements: int
) -> list[tuple[int, int, int]]:
    """Run journal_writer, SIGKILL it once it has acknowledged ``acknowledgements`` entries;
    every ``(seq, task, n)`` it acknowledged, including those still in the pipe."""
    process = await trio.lowlevel.open_process(
        [sys.executable, "-m", "tests.storage.journal_writer", str(directory), str(run)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None
    output = b""
    try:
        while output.count(b"\n") < acknowledgements:
            chunk = await process.stdout.receive_some()
            assert chunk, f"the writer exited early, status {await process.wait()}"
            output += chunk
        process.kill()
        while chunk := await process.stdout.receive_some():
            output += chunk
    finally:
        process.kill()
        await process.wait()
        await process.stdout.aclose()
    assert process.returncode == -signal.SIGKILL
    lines, _, partial_line = output.rpartition(b"\n")
    assert partial_line == b""  # each acknowledgement is one write, so none is cut
    return [tuple(map(int, line.split())) for line in lines.split(b"\n")]


async def test_kill_9_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    acknowledged: dict[int, dict[str, Any]] = {}
    with trio.fail_after(60):  # a hang guard; each run takes a fraction of a second
        for run, kill_after in enumerate([200, 350, 500]):
            for seq, task, n in await run_writer_until_killed(tmp_path, run, kill_after):
                assert seq not in acknowledged
                acknowledged[seq] = entry(run, task, n)
            with await Journal.open(tmp_path, segment_bytes=WRITER_SEGMENT_BYTES) as journal:
                entries = dict(journal.replay())
            assert list(entries) == list(range(1, len(entries) + 1))
            for seq, value in acknowledged.items():
                assert entries[seq] == value
            # Nothing else is garbage: each entry is one the writer made, and each of its tasks'
            # entries is an unbroken run from its first.
            made: dict[tuple[int, int], list[int]] = {}
            for value in entries.values():
                assert value == entry(value["run"], value["task"], value["n"])
                made.setdefault((value["run"], value["task"]), []).append(value["n"])
            assert all(ns == list(range(len(ns))) for ns in made.values())
            assert {task for (r, task) in made if r == run} == set(range(WRITER_TASKS))
    assert len(segment_files(tmp_path)) > 3  # the kills landed among segment rolls


# The model: a journal is the list of everything appended, less whole segments cut from its
# front, whatever the reopens and torn tails.

msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.binary(max_size=12),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.text(max_size=4) | st.integers(0, 9), children, max_size=3)
    ),
    max_leaves=6,
)
operations = st.lists(
    st.tuples(st.just("append"), st.lists(msgpack_values, min_size=1, max_size=6))
    | st.tuples(st.just("reopen"), st.none())
    | st.tuples(st.just("truncate"), st.integers(0, 50))
    | st.tuples(st.just("tear"), st.binary(min_size=1, max_size=20)),
    max_size=14,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
async def test_replay_is_the_model_whatever_the_appends_reopens_cuts_and_tears(
    ops: list[tuple[str, Any]],
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        model: list[Any] = []  # the value of seq n is model[n - 1]
        journal = await Journal.open(directory, segment_bytes=48)
        try:
            for op, argument in ops:
                first_before = journal.first_seq
                if op == "append":
                    async with running(journal):
                        seqs = [journal.append(value) for value in argument]
                        await journal.durable(seqs[-1])
                    assert seqs == list(range(len(model) + 1, len(model) + 1 + len(argument)))
                    model += argument
                elif op == "truncate":
                    first = await journal.truncate_before(argument)
                    assert first_before <= first <= max(argument, first_before)
                else:
                    journal.close()
                    if op == "tear":
                        with open(segment_files(directory)[-1], "ab") as file:
                            file.write(argument)
                    journal = await Journal.open(directory, segment_bytes=48)
                    assert journal.first_seq == first_before
                assert journal.next_seq == len(model) + 1
                expected = [(n, model[n - 1]) for n in range(journal.first_seq, len(model) + 1)]
                assert list(journal.replay(journal.first_seq - 1)) == expected
            expected = [(n, model[n - 1]) for n in range(journal.first_seq, len(model) + 1)]
            for after in range(journal.first_seq - 1, len(model) + 1):
                assert list(journal.replay(after)) == expected[after - journal.first_seq + 1 :]
        finally:
            journal.close()
