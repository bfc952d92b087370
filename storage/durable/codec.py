"""How values become msgpack payloads in journal frames and snapshots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack


@dataclass(frozen=True)
class Codec:
    """msgpack with the two hooks a caller may need for its own records: ``default`` turns a
    value msgpack does not know into one it does (an `msgpack.ExtType`, say), and ``ext_hook``
    turns an extension back. Values round-trip as msgpack does: tuples come back as lists, and
    maps may have non-string keys (``strict_map_key`` is off, so ``{1: "a"}`` survives).

    ``strict_types`` hands ``default`` every tuple, and every subclass of a type msgpack
    knows (a `typing.NamedTuple`, say), instead of writing them as their base type: a codec
    that must bring tuples back as tuples sets it."""

    default: Callable[[Any], Any] | None = None
    ext_hook: Callable[[int, bytes], Any] = msgpack.ExtType
    strict_types: bool = False

    def pack(self, value: Any) -> bytes:
        """The payload for ``value``; raises `TypeError` for a value msgpack cannot write."""
        return msgpack.packb(
            value, default=self.default, use_bin_type=True, strict_types=self.strict_types
        )

    def unpack(self, payload: bytes) -> Any:
        """The value of ``payload``; raises `ValueError` (msgpack's errors derive from it) for
        bytes that are not exactly one msgpack value, `TypeError` for a map key Python cannot
        hash."""
        return msgpack.unpackb(payload, ext_hook=self.ext_hook, strict_map_key=False)
