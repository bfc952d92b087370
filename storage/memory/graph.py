"""The follow graph, in this process."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any, ClassVar

from sortedcontainers import SortedList

from chirp.model import Page
from storage.timing import timed


@timed
class MemoryGraphStore:
    """A `GraphStore`: each edge gets a rising sequence number, which orders the lists
    (newest first) and serves as their cursor."""

    #: The calls that change the store, which the durable mode journals (storage.durable).
    MUTATIONS: ClassVar[tuple[str, ...]] = ("follow", "unfollow", "load")

    def __init__(self) -> None:
        self._edges: dict[tuple[int, int], int] = {}
        self._followers: defaultdict[int, SortedList] = defaultdict(SortedList)
        self._following: defaultdict[int, SortedList] = defaultdict(SortedList)
        self._sequence = 0

    async def follow(self, follower_id: int, followee_id: int, at: datetime) -> bool:
        if (follower_id, followee_id) in self._edges:
            return False
        self._sequence += 1
        self._edges[follower_id, followee_id] = self._sequence
        self._followers[followee_id].add((self._sequence, follower_id))
        self._following[follower_id].add((self._sequence, followee_id))
        return True

    def load(self, edges: Iterable[tuple[int, int]]) -> int:
        """Add many (follower, followee) edges at once, as seeding a demo or a benchmark
        does: one sort per list instead of one insertion per edge. How many were new."""
        followers: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        following: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        added = 0
        for edge in edges:
            if edge in self._edges:
                continue
            self._sequence += 1
            self._edges[edge] = self._sequence
            followers[edge[1]].append((self._sequence, edge[0]))
            following[edge[0]].append((self._sequence, edge[1]))
            added += 1
        for lists, fresh in ((self._followers, followers), (self._following, following)):
            for user_id, items in fresh.items():
                if user_id in lists:
                    lists[user_id].update(items)
                else:
                    lists[user_id] = SortedList(items)
        return added

    async def unfollow(self, follower_id: int, followee_id: int) -> int | None:
        edge = self._edges.pop((follower_id, followee_id), None)
        if edge is None:
            return None
        followers = self._followers[followee_id]
        followers.remove((edge, follower_id))
        self._following[follower_id].remove((edge, followee_id))
        return len(followers)

    async def is_following(self, follower_id: int, followee_id: int) -> bool:
        return (follower_id, followee_id) in self._edges

    async def followers(self, user_id: int, *, limit: int, before: int | None = None) -> Page:
        return _page(self._followers.get(user_id), limit, before)

    async def following(self, user_id: int, *, limit: int, before: int | None = None) -> Page:
        return _page(self._following.get(user_id), limit, before)

    async def counts(self, user_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        followers, following = self._followers, self._following
        return {i: (len(followers.get(i, ())), len(following.get(i, ()))) for i in user_ids}

    def snapshot_state(self) -> dict[str, Any]:
        """Every edge with its sequence number, flat, and the sequence: the lists are
        rebuilt from them (`restore_state`)."""
        return {
            "edges": [(*edge, sequence) for edge, sequence in self._edges.items()],
            "sequence": self._sequence,
        }

    def restore_state(self, state: dict[str, Any]) -> None:
        """Load what `snapshot_state` gave into this store, which holds nothing yet."""
        followers: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        following: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        for follower_id, followee_id, sequence in state["edges"]:
            self._edges[follower_id, followee_id] = sequence
            followers[followee_id].append((sequence, follower_id))
            following[follower_id].append((sequence, followee_id))
        for lists, built in ((self._followers, followers), (self._following, following)):
            for user_id, items in built.items():
                lists[user_id] = SortedList(items)
        self._sequence = state["sequence"]


def _page(edges: SortedList | None, limit: int, before: int | None) -> Page:
    if not edges:
        return Page([], None)
    newest_first = edges.irange(
        maximum=None if before is None else (before,), inclusive=(True, False), reverse=True
    )
    taken = list(islice(newest_first, limit + 1))
    more = len(taken) > limit
    taken = taken[:limit]
    return Page([other for _, other in taken], taken[-1][0] if more else None)
