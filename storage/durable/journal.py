"""An append-only journal of msgpack values in segment files, with group commit: one fsync
makes every append waiting at that moment durable.

On disk, a directory of segments, each named by the sequence number of its first entry
(``00000000000000000001.seg``) and holding frames (`storage.durable.frames`), one entry
each, numbered on from that name. Only the newest segment is ever written; an older one is
sealed: fsynced whole before its successor was created.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from pathlib import Path
from types import TracebackType
from typing import Any

import trio

from .codec import Codec
from .files import Fsync, fsync_directory, write_all
from .frames import HEADER, MAX_FRAME_BYTES, FrameReader, encode_frame

logger = logging.getLogger("storage.durable")

SEGMENT_BYTES = 64 * 1024 * 1024
"""The default size past which appends go to a new segment."""

_SEGMENT_NAME = re.compile(r"(\d{20})\.seg")


def segment_name(first_seq: int) -> str:
    """The file name of the segment whose first entry is ``first_seq``."""
    return f"{first_seq:020d}.seg"


class JournalError(Exception):
    """Base class of the journal's errors."""


class JournalCorrupt(JournalError):
    """Entries the journal acknowledged are damaged or missing on disk: a bad frame, or a gap
    in the numbering, where no crash can have left one. Never repaired silently; ``path`` and
    ``offset`` (bytes into that file) say where to look."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"{path}, byte {offset}: {reason}")
        self.path = path
        self.offset = offset
        self.reason = reason


class JournalFailed(JournalError):
    """The journal can no longer make entries durable: a write or fsync failed, or it was
    closed. Entries not acknowledged before that never will be."""


class JournalInUse(JournalError):
    """Another open `Journal`, in this process or another, holds the directory."""


@dataclass(frozen=True)
class _Segment:
    first_seq: int
    path: Path


class Journal:
    """An append-only, crash-safe log of msgpack values numbered 1, 2, 3, …

    Open with `Journal.open`; read back with `replay`; write with `append` (synchronous: it
    fixes the entry's seq and its place in the journal) then `await durable(seq)`; `run` is
    the flusher task that does the writing. Once `durable(seq)` returns, the entry survives
    ``kill -9`` and power loss, as far as fsync can promise it.

    Not thread-safe: use it from one trio run. Usable as a context manager that `close`\\ s it.
    """

    def __init__(
        self,
        directory: Path,
        directory_fd: int,
        segments: list[_Segment],
        active_fd: int,
        active_size: int,
        next_seq: int,
        *,
        segment_bytes: int,
        max_frame_bytes: int,
        fsync: Fsync,
        codec: Codec,
    ) -> None:
        """Private: use `Journal.open`."""
        self._directory = directory
        self._directory_fd = directory_fd  # also holds the flock that makes the journal ours
        # The flusher's thread appends to the list when it rolls; truncate_before removes from
        # its front; replay copies it.
        self._segments = segments
        self._segments_lock = threading.Lock()
        self._active_fd = active_fd
        self._active_size = active_size
        self._segment_bytes = segment_bytes
        self._max_frame_bytes = max_frame_bytes
        self._fsync = fsync
        self._codec = codec
        self._next_seq = next_seq
        self._durable_through = next_seq - 1
        self._pending: list[bytes] = []  # frames of seqs durable_through+1 … next_seq-1
        self._work = trio.Event()  # set exactly while _pending is not empty
        self._flushed = trio.Event()  # set, and replaced, after each batch (and on failure)
        self._failure: str | None = None
        self._failure_cause: BaseException | None = None
        self._flushing = False
        self._closed = False

    @classmethod
    async def open(
        cls,
        directory: os.PathLike[str] | str,
        *,
        segment_bytes: int = SEGMENT_BYTES,
        max_frame_bytes: int = MAX_FRAME_BYTES,
        fsync: Fsync = os.fsync,
        codec: Codec = Codec(),
    ) -> Journal:
        """Open the journal in ``directory`` (created if missing), recovering from a crash.

        Reads every segment through, in a worker thread. A bad frame at the end of the newest
        segment is a write torn by a crash, never acknowledged: the file is cut there (and
        fsynced) and a warning says how many bytes went. A bad frame in an older segment, or a
        gap in the numbering, is damage to acknowledged entries: `JournalCorrupt`. Raises
        `JournalInUse` if another `Journal` holds the directory (until it is closed, or its
        process dies). Everything found is fsynced before this returns, so `durable_through`
        is `next_seq` - 1.

        ``segment_bytes``: appends go to a new segment rather than take one past this size.
        ``max_frame_bytes``: the largest payload an append may have; a frame claiming more is
        damage. ``fsync``: how files and the directory are made durable. ``codec``: how
        values become msgpack."""
        if segment_bytes < 1 or not 0 < max_frame_bytes < 2**32:
            raise ValueError("segment_bytes must be positive, max_frame_bytes within 1 .. 2**32-1")
        return await trio.to_thread.run_sync(
            partial(
                cls._open_sync,
                Path(directory),
                segment_bytes=segment_bytes,
                max_frame_bytes=max_frame_bytes,
                fsync=fsync,
                codec=codec,
            )
        )

    @classmethod
    def _open_sync(
        cls,
        directory: Path,
        *,
        segment_bytes: int,
        max_frame_bytes: int,
        fsync: Fsync,
        codec: Codec,
    ) -> Journal:
        if not directory.is_dir():
            directory.mkdir(parents=True)
            fsync_directory(directory.parent, fsync)
        directory_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            try:
                fcntl.flock(directory_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise JournalInUse(f"{directory} is held by another open Journal") from None
            segments = _list_segments(directory)
            if segments:
                for segment, following in pairwise(segments):
                    _check_sealed(segment, following.first_seq, max_frame_bytes)
                count, active_size = _recover_tail(segments[-1], max_frame_bytes, fsync)
                active_fd = os.open(segments[-1].path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            else:
                segments = [_Segment(1, directory / segment_name(1))]
                active_fd = _create_segment(segments[0].path)
                fsync(directory_fd)
                count = active_size = 0
        except BaseException:
            os.close(directory_fd)
            raise
        return cls(
            directory,
            directory_fd,
            segments,
            active_fd,
            active_size,
            segments[-1].first_seq + count,
            segment_bytes=segment_bytes,
            max_frame_bytes=max_frame_bytes,
            fsync=fsync,
            codec=codec,
        )

    @property
    def next_seq(self) -> int:
        """The seq the next `append` will return."""
        return self._next_seq

    @property
    def durable_through(self) -> int:
        """Every entry with a seq up to this one is fsynced (0 before the first)."""
        return self._durable_through

    @property
    def first_seq(self) -> int:
        """The oldest seq the journal may still hold: entries below it were removed by
        `truncate_before` (it is `next_seq` when the journal holds nothing)."""
        return self._segments[0].first_seq

    def append(self, value: Any) -> int:
        """Journal ``value`` and return its seq, without waiting: `durable` says when it is on
        disk.

        Synchronous on purpose: seqs, and the order on disk, follow the order of the calls.
        A caller that applies a mutation and appends it with no checkpoint in between journals
        its mutations in the order it applied them.

        Raises `JournalFailed` once the journal has failed or is closed, `TypeError` for a
        value the codec cannot write, `ValueError` for one whose payload exceeds
        ``max_frame_bytes``; nothing is journaled then. Memory: entries wait here until the
        flusher takes them, so a caller that does not await `durable` can outrun the disk."""
        self._raise_if_failed()
        return self.append_encoded(self.encode(value))

    def encode(self, value: Any) -> bytes:
        """The payload `append` would journal for ``value``, without journaling it: a caller
        that must know an entry will be taken before it changes anything encodes first, then
        changes, then `append_encoded`\\ s. Raises `TypeError` and `ValueError` as `append`."""
        payload = self._codec.pack(value)
        if len(payload) > self._max_frame_bytes:
            raise ValueError(
                f"a journal entry of {len(payload)} bytes exceeds max_frame_bytes "
                f"({self._max_frame_bytes})"
            )
        return payload

    def append_encoded(self, payload: bytes) -> int:
        """`append` for a payload from `encode`: raises only `JournalFailed`."""
        self._raise_if_failed()
        self._pending.append(encode_frame(payload))
        seq = self._next_seq
        self._next_seq += 1
        self._work.set()
        return seq

    async def durable(self, seq: int) -> None:
        """Return once entry ``seq``, and so every entry before it, is fsynced.

        Raises `JournalFailed` if the journal fails or is closed first: an entry is never
        reported durable unless its fsync succeeded. Cancelling this wait does not withdraw
        the entry; it is still written, only the news of it is lost. `ValueError` for a seq
        never appended."""
        if not 0 < seq < self._next_seq:
            raise ValueError(f"seq {seq} was never appended (next is {self._next_seq})")
        if seq <= self._durable_through:
            await trio.lowlevel.checkpoint()
            return
        while seq > self._durable_through:
            self._raise_if_failed()
            await self._flushed.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The flusher: write appended entries to disk until cancelled.

        Waits for appends, takes every one pending at that moment, writes them and fsyncs
        once, in a worker thread, then wakes every `durable` waiter they cover; the appends
        that arrive meanwhile make the next batch. So one fsync covers every append waiting
        at that moment (group commit), and a busy journal fsyncs far less often than it
        appends.

        One flusher at a time (`RuntimeError` otherwise). Cancellation is safe: a batch being
        written finishes, and is acknowledged, before the cancellation lands, and entries
        still pending wait for the next `run` (a supervisor may restart it). A failed write or
        fsync fails the journal for good: this raises `JournalFailed`, as do the waiters and
        every later append. After a failed fsync the kernel may have dropped the dirty pages,
        and the file may end in a torn frame, so nothing can safely be appended after it;
        reopening the journal (a restart) recovers from the last good entry."""
        if self._flushing:
            raise RuntimeError("a Journal has one flusher at a time")
        self._raise_if_failed()
        self._flushing = True
        # Its own thread, so a busy default limiter (other to_thread users) never delays a commit.
        limiter = trio.CapacityLimiter(1)
        try:
            task_status.started()
            while True:
                await self._work.wait()
                batch, self._pending = self._pending, []
                self._work = trio.Event()
                first = self._durable_through + 1
                try:
                    # Shielded: the batch has left _pending, so it must reach the disk (or fail
                    # the journal) even if this task is cancelled while waiting for the thread.
                    with trio.CancelScope(shield=True):
                        await trio.to_thread.run_sync(
                            self._write_batch, batch, first, limiter=limiter
                        )
                except BaseException as exc:
                    self._fail(f"writing entries {first}..{first + len(batch) - 1} failed", exc)
                    raise JournalFailed(self._failure) from exc
                self._durable_through = first + len(batch) - 1
                self._wake()
        finally:
            self._flushing = False

    def replay(self, after: int = 0) -> Iterator[tuple[int, Any]]:
        """Yield ``(seq, value)`` for every durable entry with a seq above ``after``, oldest
        first, read from disk one entry at a time (memory stays at one entry).

        Covers the entries durable when it is called; later appends are not included. Its
        reads block: it is meant for start-up, before serving (elsewhere, iterate it in a
        worker thread). Do not `truncate_before` a segment it may still read.

        Raises `ValueError` at once if entries after ``after`` were removed by
        `truncate_before` (a replay from there would skip them), and `JournalCorrupt` while
        iterating if the files were damaged since `open`."""
        first = self.first_seq
        if after < first - 1:
            raise ValueError(
                f"replay(after={after}) needs entry {after + 1}, but the journal now begins at "
                f"entry {first}: truncate_before removed the rest"
            )
        with self._segments_lock:
            segments = list(self._segments)
        return self._read(segments, after, self._durable_through)

    async def truncate_before(self, seq: int) -> int:
        """Delete the segments that hold only entries below ``seq`` (a snapshot covers them),
        fsync the directory, and return the new `first_seq`.

        Works in whole segments: the entries below ``seq`` that share a segment with ``seq``
        stay (`replay` skips them), and the segment being written is never deleted."""
        with self._segments_lock:
            count = 0
            while count + 1 < len(self._segments) and self._segments[count + 1].first_seq <= seq:
                count += 1
            doomed = self._segments[:count]
            del self._segments[:count]
        if doomed:
            await trio.to_thread.run_sync(self._remove, doomed)
        else:
            await trio.lowlevel.checkpoint()
        return self.first_seq

    def close(self) -> None:
        """Close the files and release the directory. Entries not yet durable never will be:
        their waiters get `JournalFailed`, as do later appends. Stop the flusher first
        (`RuntimeError` otherwise). Closing twice does nothing."""
        if self._flushing:
            raise RuntimeError("cancel the journal's run() before closing it")
        if self._closed:
            return
        self._closed = True
        self._fail("the journal is closed", None)
        os.close(self._active_fd)
        os.close(self._directory_fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise JournalFailed(self._failure) from self._failure_cause

    def _fail(self, reason: str, cause: BaseException | None) -> None:
        if self._failure is None:
            self._failure = f"journal {self._directory}: {reason}"
            self._failure_cause = cause
        self._wake()

    def _wake(self) -> None:
        self._flushed.set()
        self._flushed = trio.Event()

    def _write_batch(self, batch: list[bytes], first_seq: int) -> None:
        """In the flusher's thread: append ``batch`` (seqs from ``first_seq``) and fsync,
        rolling to a new segment where one would grow past segment_bytes."""
        chunk: list[bytes] = []
        size = self._active_size
        for seq, frame in enumerate(batch, start=first_seq):
            if size and size + len(frame) > self._segment_bytes:
                self._write_active(chunk)
                chunk = []
                self._roll(seq)
                size = 0
            chunk.append(frame)
            size += len(frame)
        self._write_active(chunk)

    def _write_active(self, frames: list[bytes]) -> None:
        if frames:
            data = b"".join(frames)
            write_all(self._active_fd, data)
            self._active_size += len(data)
            self._fsync(self._active_fd)

    def _roll(self, first_seq: int) -> None:
        # The segment being left was fsynced whole just before (or at the end of the previous
        # batch): a crash can tear only the newest segment, which is what open() assumes.
        path = self._directory / segment_name(first_seq)
        fd = _create_segment(path)
        os.close(self._active_fd)
        self._active_fd = fd
        self._active_size = 0
        self._fsync(self._directory_fd)
        with self._segments_lock:
            self._segments.append(_Segment(first_seq, path))

    def _remove(self, segments: list[_Segment]) -> None:
        for segment in segments:
            segment.path.unlink()
        self._fsync(self._directory_fd)

    def _read(self, segments: list[_Segment], after: int, last: int) -> Iterator[tuple[int, Any]]:
        for index, segment in enumerate(segments):
            end = segments[index + 1].first_seq - 1 if index + 1 < len(segments) else last
            end = min(end, last)  # the last seq to read from this segment
            if end <= after:
                continue
            with open(segment.path, "rb") as file:
                reader = FrameReader(file, self._max_frame_bytes)
                seq = segment.first_seq - 1
                for payload in reader:
                    seq += 1
                    if seq > after:
                        yield seq, self._decode(segment, reader, payload, seq)
                    if seq == end:
                        break
                if seq < end:
                    problem = reader.problem or "the end of the file"
                    raise JournalCorrupt(
                        segment.path, reader.offset, f"{problem} where entry {seq + 1} should be"
                    )

    def _decode(self, segment: _Segment, reader: FrameReader, payload: bytes, seq: int) -> Any:
        try:
            return self._codec.unpack(payload)
        except (ValueError, TypeError) as exc:
            offset = reader.offset - HEADER.size - len(payload)
            raise JournalCorrupt(
                segment.path, offset, f"entry {seq} does not decode: {exc!r}"
            ) from exc


def _list_segments(directory: Path) -> list[_Segment]:
    found = []
    with os.scandir(directory) as entries:
        for entry in entries:
            match = _SEGMENT_NAME.fullmatch(entry.name)
            if match:
                found.append(_Segment(int(match[1]), Path(entry.path)))
    return sorted(found, key=lambda segment: segment.first_seq)


def _create_segment(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)


def _check_sealed(segment: _Segment, next_first_seq: int, max_frame_bytes: int) -> None:
    """A segment older than the newest must be whole, and end where the next one begins."""
    with open(segment.path, "rb") as file:
        reader = FrameReader(file, max_frame_bytes)
        count = sum(1 for _ in reader)
    if reader.problem is not None:
        raise JournalCorrupt(
            segment.path,
            reader.offset,
            f"{reader.problem} in a sealed segment (entry {segment.first_seq + count}): "
            "acknowledged entries are damaged",
        )
    if segment.first_seq + count != next_first_seq:
        raise JournalCorrupt(
            segment.path,
            reader.offset,
            f"holds {count} entries from {segment.first_seq}, "
            f"but the next segment begins at entry {next_first_seq}",
        )


def _recover_tail(segment: _Segment, max_frame_bytes: int, fsync: Fsync) -> tuple[int, int]:
    """Cut a torn write off the newest segment; its entry count and size afterwards."""
    with open(segment.path, "r+b") as file:
        reader = FrameReader(file, max_frame_bytes)
        count = sum(1 for _ in reader)
        if reader.problem is not None:
            dropped = os.fstat(file.fileno()).st_size - reader.offset
            logger.warning(
                "journal %s: dropped the last %d bytes (from byte %d, %s), "
                "a write torn by a crash before it was acknowledged",
                segment.path,
                dropped,
                reader.offset,
                reader.problem,
            )
            file.truncate(reader.offset)
        # Even when nothing was cut: a process killed between its write and its fsync leaves
        # whole frames that are only in the page cache, and new entries will follow them.
        fsync(file.fileno())
    return count, reader.offset
