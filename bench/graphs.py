"""Social graphs for the benchmarks: socfb-Reed98 and seeded synthetic power-law graphs.

Users are numbered 0..users-1; an edge is (follower, followee).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np

from chirp.demo.graph import REED98, read_reed98

# Pairs handed out per tolist() when iterating Edges: large enough to amortise numpy's
# per-call cost, small enough that the Python ints of one chunk stay a few MB.
_CHUNK = 1 << 16
# Followers drawn at once by power_law: ~2.6M edges at the default mean, so each draw's
# temporaries stay some tens of MB whatever the graph's size.
_BLOCK = 1 << 17


class Edges(Sequence[tuple[int, int]]):
    """(follower, followee) pairs kept as two numpy arrays: a million-user graph has ~20M
    follows, which as Python tuples would take gigabytes and most of the build time.
    Reads as a sequence of plain-int tuples, like the list it stands in for."""

    def __init__(self, follower: np.ndarray, followee: np.ndarray) -> None:
        if follower.shape != followee.shape:
            raise ValueError("follower and followee arrays differ in length")
        self.follower = follower
        self.followee = followee

    def __len__(self) -> int:
        return len(self.follower)

    @overload
    def __getitem__(self, index: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, index: slice) -> Edges: ...
    def __getitem__(self, index: int | slice) -> tuple[int, int] | Edges:
        if isinstance(index, slice):
            return Edges(self.follower[index], self.followee[index])
        return int(self.follower[index]), int(self.followee[index])

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for start in range(0, len(self), _CHUNK):
            end = start + _CHUNK
            yield from zip(
                self.follower[start:end].tolist(), self.followee[start:end].tolist(), strict=True
            )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Edges):
            return np.array_equal(self.follower, other.follower) and np.array_equal(
                self.followee, other.followee
            )
        if isinstance(other, Sequence):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable arrays, like the list it replaces

    def __repr__(self) -> str:
        return f"Edges({len(self):,} follows)"


@contextmanager
def _collector_paused() -> Iterator[None]:
    """For building a million lists at once: each few hundred would otherwise set off a
    collection, and the older generations' ones walk all the lists made so far (4x slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _columns(edges: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(edges, Edges):
        return edges.follower, edges.followee
    pairs = np.array(edges, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


POWER_LAW_SEED = 1  # the synthetic graph's default seed: the same graph every run


@dataclass(frozen=True)
class Graph:
    name: str
    users: int
    edges: Sequence[tuple[int, int]]  # a list (reed98) or Edges (power_law)
    celebrities: tuple[int, ...] = ()  # the accounts built to be followed by most users

    def in_degrees(self) -> np.ndarray:
        _, followee = _columns(self.edges)
        return np.bincount(followee, minlength=self.users)

    def followers(self) -> list[list[int]]:
        follower, followee = _columns(self.edges)
        # Stable, so each account's followers keep the edges' order, as appending did.
        by_followee = follower[np.argsort(followee, kind="stable")].tolist()
        ends = np.cumsum(self.in_degrees()).tolist()
        starts = [0, *ends[:-1]]
        with _collector_paused():
            return [by_followee[start:end] for start, end in zip(starts, ends, strict=True)]

    def describe(self) -> str:
        degrees = self.in_degrees()
        top = np.sort(degrees)[::-1][:4]
        return (
            f"{self.name}: {self.users:,} users, {len(self.edges):,} follows, "
            f"mean {len(self.edges) / self.users:.1f} followees, top in-degrees {top.tolist()}"
        )


def reed98(folder: Path = REED98) -> Graph:
    """The DeathStarBench graph, each friendship followed in both directions (read as
    demo mode reads it)."""
    users, edges = read_reed98(folder)
    return Graph("socfb-Reed98", users, edges)


def power_law(
    users: int = 120_000,
    *,
    mean_followees: float = 20.0,
    zipf: float = 1.0,
    celebrities: int = 3,
    celebrity_reach: tuple[float, float] = (0.86, 0.95),
    seed: int = POWER_LAW_SEED,
) -> Graph:
    """Out-degrees spread around ``mean_followees``; whom to follow drawn by a Zipf law
    over a shuffled ranking (in-degree ~ 1/rank^zipf); and ``celebrities`` accounts each
    followed by a share of everyone in ``celebrity_reach`` (above 100,000 followers
    at the default size). Seeded: the same arguments give the same graph."""
    rng = np.random.default_rng(seed)
    ranking = rng.permutation(users)
    stars, others = ranking[:celebrities], ranking[celebrities:]
    keys = np.concatenate(
        [
            *_zipf_follows(rng, users, others, celebrities + 1, mean_followees, zipf),
            *(_celebrity_follows(rng, users, int(star), celebrity_reach) for star in stars),
        ]
    )
    # One int64 key per edge, follower-major, so sorting the keys sorts the edges by
    # (follower, followee) as sorted() on the tuples did.
    keys = _sorted_unique(keys)
    ids = _id_type(users)
    edges = Edges((keys // users).astype(ids), (keys % users).astype(ids))
    return Graph(f"power-law {users:,}", users, edges, tuple(stars.tolist()))


def _zipf_follows(
    rng: np.random.Generator,
    users: int,
    ranked: np.ndarray,
    first_rank: int,
    mean: float,
    zipf: float,
) -> Iterator[np.ndarray]:
    """Edge keys of every user's own follows, each picked among ``ranked`` (the accounts
    from rank ``first_rank`` on) with weight 1/rank^zipf. The celebrities hold the ranks
    before it but are not picked here: the Zipf head alone reaches most users (~65% at
    rank 1, at the default size), which on top of their reach would overshoot it."""
    wanted = np.minimum(users - 1, 1 + rng.exponential(mean, users).astype(np.int64))
    if len(ranked) == 0:
        return
    ranks = np.arange(first_rank, first_rank + len(ranked), dtype=np.float64)
    cumulative = np.cumsum(ranks**-zipf)
    # Block by block, so the temporaries of a draw stay a fraction of the whole graph.
    for start in range(0, users, _BLOCK):
        count = wanted[start : start + _BLOCK]
        follower = np.repeat(np.arange(start, start + len(count), dtype=np.int64), count)
        draws = rng.random(len(follower)) * cumulative[-1]
        # Rounding can leave a draw at the very total: clip rather than index past the end.
        picks = np.searchsorted(cumulative, draws, side="right")
        followee = ranked[np.minimum(picks, len(ranked) - 1)]
        kept = follower != followee
        yield follower[kept] * users + followee[kept]


def _celebrity_follows(
    rng: np.random.Generator, users: int, star: int, reach: tuple[float, float]
) -> np.ndarray:
    share = rng.uniform(*reach)
    follows = rng.random(users) < share
    follows[star] = False
    return np.flatnonzero(follows) * users + star


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    # Not np.unique: numpy 2 dedupes through a hash table first, several times slower here.
    keys.sort()
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    return keys[first]


def _id_type(users: int) -> type[np.signedinteger]:
    # int32 halves the graph's footprint; ids beyond it would mean billions of users.
    return np.int32 if users <= np.iinfo(np.int32).max else np.int64
