"""Social graphs for the benchmarks: socfb-Reed98 and seeded synthetic power-law graphs.

Users are numbered 0..users-1; an edge is (follower, followee).
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from pathlib import Path

REED98 = Path(__file__).resolve().parents[2] / "shared" / "data" / "socfb-Reed98"


@dataclass(frozen=True)
class Graph:
    name: str
    users: int
    edges: list[tuple[int, int]]
    celebrities: tuple[int, ...] = ()  # the accounts built to be followed by most users

    def followers(self) -> list[list[int]]:
        lists: list[list[int]] = [[] for _ in range(self.users)]
        for follower, followee in self.edges:
            lists[followee].append(follower)
        return lists

    def describe(self) -> str:
        degrees = sorted((len(f) for f in self.followers()), reverse=True)
        return (
            f"{self.name}: {self.users:,} users, {len(self.edges):,} follows, "
            f"mean {len(self.edges) / self.users:.1f} followees, top in-degrees {degrees[:4]}"
        )


def reed98(folder: Path = REED98) -> Graph:
    """The DeathStarBench graph, each friendship followed in both directions."""
    edges: set[tuple[int, int]] = set()
    users = 0
    for line in (folder / "socfb-Reed98.edges").read_text().splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit():
            continue
        a, b = int(parts[0]), int(parts[1])
        if a != b:
            edges.update(((a, b), (b, a)))
            users = max(users, a + 1, b + 1)
    return Graph("socfb-Reed98", users, sorted(edges))


def power_law(
    users: int = 120_000,
    *,
    mean_followees: float = 20.0,
    zipf: float = 1.0,
    celebrities: int = 3,
    celebrity_reach: tuple[float, float] = (0.86, 0.95),
    seed: int = 1,
) -> Graph:
    """Out-degrees spread around ``mean_followees``; whom to follow drawn by a Zipf law
    over a shuffled ranking (in-degree ~ 1/rank^zipf); and ``celebrities`` accounts each
    followed by a share of everyone in ``celebrity_reach`` (above 100,000 followers
    at the default size). Seeded: the same arguments give the same graph."""
    rng = random.Random(seed)
    ranking = list(range(users))
    rng.shuffle(ranking)
    weights = itertools.accumulate(1.0 / (rank + 1) ** zipf for rank in range(users))
    cumulative = list(weights)
    stars = ranking[:celebrities]
    edges: set[tuple[int, int]] = set()
    for follower in range(users):
        wanted = min(users - 1, 1 + int(rng.expovariate(1.0 / mean_followees)))
        picks = rng.choices(range(users), cum_weights=cumulative, k=wanted)
        edges.update((follower, ranking[p]) for p in picks if ranking[p] != follower)
    for star in stars:
        reach = rng.uniform(*celebrity_reach)
        edges.update((f, star) for f in range(users) if f != star and rng.random() < reach)
    return Graph(f"power-law {users:,}", users, sorted(edges), tuple(stars))
