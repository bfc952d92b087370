"""The log's stream entries as records: an entry's id is its offset, plus one (``0-{n + 1}``),
and its fields are the event's key, append time and msgpack bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import msgpack

from storage.protocols import Record


def _offset(entry_id: bytes) -> int:
    return int(entry_id.rpartition(b"-")[2]) - 1


_unpack = partial(msgpack.unpackb, strict_map_key=False)


def _records(topic: str, partition: int, flat: Sequence[Any]) -> list[Record]:
    """Records from a script's flat id, key, time, payload rows."""
    unpack = _unpack
    return [
        Record(topic, partition, _offset(flat[i]), flat[i + 1].decode(), float(flat[i + 2]),
               unpack(flat[i + 3]))
        for i in range(0, len(flat), 4)
    ]  # fmt: skip
