"""Journal frames: a ``[u32 payload length][u32 crc32 of payload]`` big-endian header, then
the payload (one msgpack value)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

HEADER = struct.Struct(">II")

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""The default bound on a payload. A length above it is read as damage, not as a reason to
allocate gigabytes: a torn or flipped header can claim any length up to 4 GiB."""


def encode_frame(payload: bytes) -> bytes:
    """The frame that holds ``payload``. zlib's CRC-32 is in the standard library and runs at
    gigabytes per second; it catches every burst error up to 32 bits and all but 2**-32 of the
    rest, which is what a torn write or a flipped bit needs (it is no defence against tampering,
    and a journal needs none)."""
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


class FrameReader:
    """Iterate the payloads of the frames in ``file``, from its current position, stopping at
    the end of the file or at the first frame that is not whole and intact. Afterwards
    `offset` is where the good frames end (relative to where reading began) and `problem`
    says why reading stopped early, or is None if it reached a clean end of file.

    A frame is bad if its header or payload is cut short, if its length is 0 or above
    ``max_frame_bytes``, or if its CRC does not match. Length 0 is refused because no msgpack
    value is empty, and because a tail of zeros (a file extended by a crash before its data
    reached the disk) would otherwise read as frames: crc32(b"") is 0.

    Reads one frame at a time, so memory stays at one payload whatever the file's size."""

    def __init__(self, file: BinaryIO, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._file = file
        self._max_frame_bytes = max_frame_bytes
        self.offset = 0
        self.problem: str | None = None

    def __iter__(self) -> Iterator[bytes]:
        while True:
            header = self._file.read(HEADER.size)
            if not header:
                return
            if len(header) < HEADER.size:
                self.problem = f"a header cut short ({len(header)} of {HEADER.size} bytes)"
                return
            length, crc = HEADER.unpack(header)
            if not 0 < length <= self._max_frame_bytes:
                self.problem = f"an implausible payload length ({length} bytes)"
                return
            payload = self._file.read(length)
            if len(payload) < length:
                self.problem = f"a payload cut short ({len(payload)} of {length} bytes)"
                return
            if zlib.crc32(payload) != crc:
                self.problem = "a payload whose CRC does not match"
                return
            self.offset += HEADER.size + length
            yield payload
