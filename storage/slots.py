"""Redis Cluster key placement: CRC16 of the key (or of its ``{hash tag}``) mod 16384.

The embedded cache nodes place keys exactly as a Redis Cluster would, so multi-key work
grouped per node here is grouped per node there too.
"""

from __future__ import annotations

from binascii import crc_hqx

SLOTS = 16384


def key_slot(key: str) -> int:
    """The Redis Cluster slot of ``key``. As Redis, only the part inside the first
    non-empty ``{...}`` counts when there is one, so ``feed:{42}`` and ``celeb:{42}``
    share a slot. CRC16 here is XMODEM, which is what ``binascii.crc_hqx`` computes."""
    data = key.encode()
    start = data.find(b"{")
    if start != -1:
        end = data.find(b"}", start + 1)
        if end > start + 1:
            data = data[start + 1 : end]
    return tag_slot(data)


def tag_slot(tag: bytes) -> int:
    """The slot of every key whose hash tag is ``tag`` (``feed:{42}`` has ``b"42"``): for
    hot paths that know the tag, without building the key."""
    return crc_hqx(tag, 0) % SLOTS


def node_of(slot: int, nodes: int) -> int:
    """Which of ``nodes`` serves ``slot``: contiguous, equal slot ranges, as
    ``redis-cli --cluster create`` assigns them."""
    return slot * nodes // SLOTS
