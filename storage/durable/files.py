"""File-system steps the journal and the snapshots share."""

from __future__ import annotations

import os
from collections.abc import Callable

Fsync = Callable[[int], None]
"""How a file descriptor is made durable: `os.fsync` unless a test counts or fails the calls."""


def fsync_directory(directory: os.PathLike[str] | str, fsync: Fsync) -> None:
    """Make the directory's entries durable: a file created, renamed or removed in it is not
    durable until its directory is fsynced too (POSIX leaves a new name in the page cache)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` at ``fd``: `os.write` may write less than asked (a full disk
    answers a short write before it raises)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
