"""Snapshots: atomic writes, the newest intact one wins, damage falls back, pruning."""

from __future__ import annotations

import logging
import os
import shutil
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest

from storage.durable import Codec, latest_snapshot, prune_snapshots, write_snapshot

from .test_journal import CountingFsync

STATE = {"tweets": {1: {"text": "hello", "tags": ["a", "b"]}}, "follows": [[1, 2], [2, 3]]}


def names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


async def test_a_snapshot_round_trips_and_leaves_no_temp_file(tmp_path: Path) -> None:
    fsync = CountingFsync()
    path = await write_snapshot(tmp_path, 42, STATE, fsync=fsync)
    assert path == tmp_path / "snapshot-00000000000000000042.msgpack"
    assert names(tmp_path) == [path.name]
    assert (fsync.files, fsync.directories) == (1, 1)  # the file before its rename, then the rename
    assert await latest_snapshot(tmp_path) == (42, STATE)


async def test_no_snapshot_is_none(tmp_path: Path) -> None:
    assert await latest_snapshot(tmp_path) is None
    assert await latest_snapshot(tmp_path / "missing") is None


async def test_the_newest_snapshot_wins_and_a_rewrite_replaces_it(tmp_path: Path) -> None:
    for seq in (5, 10, 7):
        await write_snapshot(tmp_path / "snapshots", seq, {"seq": seq})
    assert await latest_snapshot(tmp_path / "snapshots") == (10, {"seq": 10})
    await write_snapshot(tmp_path / "snapshots", 10, {"seq": "again"})
    assert await latest_snapshot(tmp_path / "snapshots") == (10, {"seq": "again"})


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def cut_short(path: Path) -> None:
    os.truncate(path, path.stat().st_size - 1)


def cut_in_header(path: Path) -> None:
    os.truncate(path, 10)


def grow(path: Path) -> None:
    with open(path, "ab") as file:
        file.write(b"\x00")


def wrong_magic(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0x01
    path.write_bytes(bytes(data))


def misnamed(path: Path) -> None:
    shutil.copy(path.with_name("snapshot-00000000000000000005.msgpack"), path)


def not_msgpack(path: Path) -> None:
    # An intact frame around bytes that are no msgpack value: the CRC alone cannot catch it.
    good = path.read_bytes()
    header = bytearray(good[:28])
    payload = b"\xc1"
    header[16:28] = len(payload).to_bytes(8, "big") + zlib.crc32(payload).to_bytes(4, "big")
    path.write_bytes(bytes(header) + payload)


@pytest.mark.parametrize(
    "damage",
    [flip_last_byte, cut_short, cut_in_header, grow, wrong_magic, misnamed, not_msgpack],
)
async def test_a_damaged_newest_snapshot_falls_back_to_the_previous_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Callable[[Path], None]
) -> None:
    await write_snapshot(tmp_path, 5, {"at": 5})
    newest = await write_snapshot(tmp_path, 9, {"at": 9})
    damage(newest)
    with caplog.at_level(logging.WARNING, logger="storage.durable"):
        assert await latest_snapshot(tmp_path) == (5, {"at": 5})
    assert f"snapshot {newest} is damaged" in caplog.text


async def test_when_every_snapshot_is_damaged_there_is_none(tmp_path: Path) -> None:
    flip_last_byte(await write_snapshot(tmp_path, 5, "state"))
    assert await latest_snapshot(tmp_path) is None


async def test_a_leftover_temp_file_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await write_snapshot(tmp_path, 5, {"at": 5})
    # Even a whole one: only the rename makes a snapshot.
    whole = await write_snapshot(tmp_path / "elsewhere", 9, {"at": 9})
    whole.rename(tmp_path / (whole.name + ".tmp"))
    (tmp_path / "snapshot-00000000000000000012.msgpack.tmp").write_bytes(b"chirpsn1\x00\x00")
    with caplog.at_level(logging.WARNING, logger="storage.durable"):
        assert await latest_snapshot(tmp_path) == (5, {"at": 5})
    assert "unfinished write" in caplog.text


async def test_pruning_keeps_the_newest_and_removes_stale_temp_files(tmp_path: Path) -> None:
    for seq in range(1, 6):
        await write_snapshot(tmp_path, seq, seq)
    stale = tmp_path / "snapshot-00000000000000000003.msgpack.tmp"
    in_progress = tmp_path / "snapshot-00000000000000000008.msgpack.tmp"
    stale.write_bytes(b"")
    in_progress.write_bytes(b"")
    (tmp_path / "unrelated.txt").write_text("left alone")
    fsync = CountingFsync()
    removed = await prune_snapshots(tmp_path, keep=2, fsync=fsync)
    assert sorted(path.name for path in removed) == [
        "snapshot-00000000000000000001.msgpack",
        "snapshot-00000000000000000002.msgpack",
        "snapshot-00000000000000000003.msgpack",
        stale.name,
    ]
    assert names(tmp_path) == [
        "snapshot-00000000000000000004.msgpack",
        "snapshot-00000000000000000005.msgpack",
        in_progress.name,
        "unrelated.txt",
    ]
    assert fsync.directories == 1
    assert await latest_snapshot(tmp_path) == (5, 5)
    assert await prune_snapshots(tmp_path, keep=2, fsync=fsync) == []
    assert fsync.directories == 1  # nothing removed, nothing to fsync
    with pytest.raises(ValueError):
        await prune_snapshots(tmp_path, keep=0)


async def test_a_state_the_codec_cannot_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        await write_snapshot(tmp_path, 1, {"x": object()})
    assert names(tmp_path) == []


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


async def test_a_codec_carries_records_and_packing_runs_off_the_event_loop(
    tmp_path: Path,
) -> None:
    packed_in: list[threading.Thread] = []

    def default(value: Any) -> Any:
        packed_in.append(threading.current_thread())
        return msgpack.ExtType(1, msgpack.packb([value.x, value.y]))

    def ext_hook(code: int, data: bytes) -> Any:
        return Point(*msgpack.unpackb(data))

    codec = Codec(default=default, ext_hook=ext_hook)
    await write_snapshot(tmp_path, 3, {"points": [Point(1, 2), Point(3, 4)]}, codec=codec)
    assert await latest_snapshot(tmp_path, codec=codec) == (
        3,
        {"points": [Point(1, 2), Point(3, 4)]},
    )
    assert packed_in and threading.current_thread() not in packed_in
