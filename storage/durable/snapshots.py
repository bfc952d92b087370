"""Snapshots: a whole state as of a journal seq, written atomically, checked when read.

A snapshot is ``snapshot-<seq>.msgpack`` (seq zero-padded to 20 digits): a header
``[8-byte magic][u64 seq][u64 payload length][u32 crc32 of payload]``, big-endian, then the
state as one msgpack value. It is written to ``<name>.tmp``, fsynced, renamed into place and
the directory fsynced, so a crash leaves either the whole snapshot or none of it (and perhaps
a temp file, which readers ignore).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import zlib
from functools import partial
from pathlib import Path
from typing import Any

import trio

from .codec import Codec
from .files import Fsync, fsync_directory

logger = logging.getLogger("storage.durable")

_MAGIC = b"chirpsn1"
_HEADER = struct.Struct(">8sQQI")
_NAME = re.compile(r"snapshot-(\d{20})\.msgpack")
_TEMP_SUFFIX = ".tmp"


def snapshot_name(seq: int) -> str:
    """The file name of the snapshot taken at ``seq``."""
    return f"snapshot-{seq:020d}.msgpack"


async def write_snapshot(
    directory: os.PathLike[str] | str,
    seq: int,
    state: Any,
    *,
    fsync: Fsync = os.fsync,
    codec: Codec = Codec(),
) -> Path:
    """Write ``state``, the result of every journal entry up to and including ``seq``, as the
    snapshot for ``seq`` in ``directory`` (created if missing), and return its path once it is
    durable. A snapshot already there for ``seq`` is replaced, atomically.

    Packing and writing both run in a worker thread, so a large state blocks the event loop
    only for the GIL slices the packing takes. Hence the contract: nothing may change
    ``state`` until this returns. Hand it a copy the application no longer touches (for
    dicts of immutable records a shallow ``dict(...)``, taken with no checkpoint between it
    and reading ``seq``, is enough). Raises `TypeError` for a state the codec cannot write.
    Cancellation waits for the write to finish, then lands."""
    return await trio.to_thread.run_sync(
        partial(_write, Path(directory), seq, state, fsync=fsync, codec=codec)
    )


async def latest_snapshot(
    directory: os.PathLike[str] | str, *, codec: Codec = Codec()
) -> tuple[int, Any] | None:
    """The newest intact snapshot in ``directory`` as ``(seq, state)``, or None if there is
    none (nor the directory). A damaged snapshot (bad magic, length, seq or CRC, or a payload
    that does not decode) is passed over with a warning for the one before it; leftover temp
    files are ignored. Reads in a worker thread, one snapshot at a time."""
    return await trio.to_thread.run_sync(partial(_latest, Path(directory), codec))


async def prune_snapshots(
    directory: os.PathLike[str] | str, keep: int = 2, *, fsync: Fsync = os.fsync
) -> list[Path]:
    """Delete all but the ``keep`` newest snapshots (by seq, unread: a damaged one counts),
    and the temp files older than the newest snapshot, which only a crash can have left;
    fsync the directory and return what was deleted. A temp file newer than every snapshot
    may be a write in progress and stays."""
    if keep < 1:
        raise ValueError("keep at least one snapshot")
    return await trio.to_thread.run_sync(partial(_prune, Path(directory), keep, fsync))


async def snapshot_seqs(directory: os.PathLike[str] | str) -> list[int]:
    """The seqs of the snapshots in ``directory``, oldest first (unread: a damaged one
    counts); none if there is no such directory."""
    return await trio.to_thread.run_sync(partial(_seqs, Path(directory)))


def _seqs(directory: Path) -> list[int]:
    return sorted(_listing(directory)[0]) if directory.is_dir() else []


def _write(directory: Path, seq: int, state: Any, *, fsync: Fsync, codec: Codec) -> Path:
    payload = codec.pack(state)
    if not directory.is_dir():
        directory.mkdir(parents=True)
        fsync_directory(directory.parent, fsync)
    path = directory / snapshot_name(seq)
    temp = path.with_name(path.name + _TEMP_SUFFIX)
    with open(temp, "wb") as file:
        file.write(_HEADER.pack(_MAGIC, seq, len(payload), zlib.crc32(payload)))
        file.write(payload)
        file.flush()
        fsync(file.fileno())
    os.replace(temp, path)
    fsync_directory(directory, fsync)
    return path


def _latest(directory: Path, codec: Codec) -> tuple[int, Any] | None:
    if not directory.is_dir():
        return None
    snapshots, temps = _listing(directory)
    for temp in temps:
        logger.warning("snapshot %s: an unfinished write (a crash?), ignored", temp)
    for seq, path in sorted(snapshots.items(), reverse=True):
        try:
            return seq, _read(path, seq, codec)
        except _Damaged as damage:
            logger.warning("snapshot %s is damaged (%s): trying an older one", path, damage)
    return None


def _prune(directory: Path, keep: int, fsync: Fsync) -> list[Path]:
    if not directory.is_dir():
        return []
    snapshots, temps = _listing(directory)
    seqs = sorted(snapshots, reverse=True)
    doomed = [snapshots[seq] for seq in seqs[keep:]]
    if seqs:
        doomed += [path for seq, path in temps.items() if seq < seqs[0]]
    for path in doomed:
        path.unlink()
    if doomed:
        fsync_directory(directory, fsync)
    return doomed


def _listing(directory: Path) -> tuple[dict[int, Path], dict[int, Path]]:
    """The snapshots and the temp files in ``directory``, by seq."""
    snapshots: dict[int, Path] = {}
    temps: dict[int, Path] = {}
    with os.scandir(directory) as entries:
        for entry in entries:
            name, is_temp = entry.name, entry.name.endswith(_TEMP_SUFFIX)
            if is_temp:
                name = name.removesuffix(_TEMP_SUFFIX)
            match = _NAME.fullmatch(name)
            if match:
                (temps if is_temp else snapshots)[int(match[1])] = Path(entry.path)
    return snapshots, temps


class _Damaged(Exception):
    pass


def _read(path: Path, seq: int, codec: Codec) -> Any:
    with open(path, "rb") as file:
        header = file.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise _Damaged(f"a header cut short ({len(header)} of {_HEADER.size} bytes)")
        magic, stored_seq, length, crc = _HEADER.unpack(header)
        if magic != _MAGIC:
            raise _Damaged(f"not a snapshot (magic {magic!r})")
        if stored_seq != seq:
            raise _Damaged(f"it holds seq {stored_seq}, its name says {seq}")
        size = os.fstat(file.fileno()).st_size
        if size != _HEADER.size + length:
            raise _Damaged(f"{size} bytes where the header promises {_HEADER.size + length}")
        payload = file.read(length)
    if zlib.crc32(payload) != crc:
        raise _Damaged("its CRC does not match")
    try:
        return codec.unpack(payload)
    except (ValueError, TypeError) as exc:
        raise _Damaged(f"it does not decode: {exc!r}") from exc
