"""A feed in 8 bytes an entry: tweet ids in a sorted ``array('q')``, capped."""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable


class FeedRing:
    """The newest ``capacity`` tweet ids of one feed, no duplicates.

    What Redis would keep as a sorted set by id (ZADD, then ZREMRANGEBYRANK to cap): a
    Snowflake sorts by time, so keeping ids sorted keeps the newest ``capacity`` even when
    older ones arrive late (a follow merging someone's past tweets, a redelivered event).
    An ``array('q')`` holds each id in 8 bytes instead of a Python object of 32 or more.
    """

    __slots__ = ("_ids", "capacity")

    def __init__(self, capacity: int = 1000, ids: Iterable[int] = ()) -> None:
        self.capacity = capacity
        self._ids = array("q", sorted(set(ids))[-capacity:] if capacity else [])

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, tweet_id: int) -> bool:
        i = bisect_left(self._ids, tweet_id)
        return i < len(self._ids) and self._ids[i] == tweet_id

    def add(self, tweet_id: int) -> bool:
        """Insert ``tweet_id``; False if it was there already or is older than everything a
        full feed keeps (idempotent, so a redelivered event changes nothing)."""
        ids = self._ids
        if self.capacity and (not ids or tweet_id > ids[-1]):  # the newest: the usual case
            ids.append(tweet_id)
            if len(ids) > self.capacity:
                del ids[0]
            return True
        i = bisect_left(ids, tweet_id)
        if i < len(ids) and ids[i] == tweet_id:
            return False
        if len(ids) >= self.capacity:
            if i == 0:
                return False
            del ids[0]
            i -= 1
        ids.insert(i, tweet_id)
        return True

    def discard(self, tweet_id: int) -> bool:
        ids = self._ids
        i = bisect_left(ids, tweet_id)
        if i < len(ids) and ids[i] == tweet_id:
            del ids[i]
            return True
        return False

    def newest(self, limit: int, max_id: int | None = None) -> list[int]:
        """Up to ``limit`` ids, newest first, none above ``max_id``."""
        ids = self._ids
        end = len(ids) if max_id is None else bisect_right(ids, max_id)
        return ids[max(end - limit, 0) : end].tolist()[::-1]

    @property
    def footprint(self) -> int:
        """Bytes this ring takes in memory: the object and its array, spare room included."""
        return sys.getsizeof(self) + sys.getsizeof(self._ids)

    @property
    def nbytes(self) -> int:
        """Bytes of id storage (the array's buffer, without its fixed header)."""
        return self._ids.buffer_info()[1] * self._ids.itemsize
