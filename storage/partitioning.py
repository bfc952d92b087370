"""Which partition a key goes to: the same answer in every process and on every backend."""

from __future__ import annotations

import zlib


def partition_for(key: str | int, partitions: int) -> int:
    """CRC-32 of the key's text, modulo the partition count. Python's ``hash`` is salted per
    process, so it would send one key to different partitions from different processes."""
    return zlib.crc32(str(key).encode()) % partitions
