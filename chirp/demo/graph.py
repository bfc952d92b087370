"""Follow graphs for the demo: a seeded power-law graph with celebrities, and socfb-Reed98.

Pure Python (no numpy: that is the benchmarks' dependency, not the server's). Users are
numbered 0..users-1; an edge is (follower, followee). ``bench.graphs`` builds its own
graphs with numpy at benchmark scale and reads Reed98 through `read_reed98`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

#: Where the shared data sits beside the repository (``../shared/data``).
REED98 = Path(__file__).resolve().parents[3] / "shared" / "data" / "socfb-Reed98"

POWER_LAW_SEED = 1  # the same graph every run unless asked otherwise


@dataclass(frozen=True)
class FollowGraph:
    """Who follows whom among ``users`` numbered accounts. ``edges`` are sorted by
    (follower, followee), each once, none a self-follow. ``celebrities`` are the accounts
    with the most followers, most followed first."""

    name: str
    users: int
    edges: Sequence[tuple[int, int]]
    celebrities: tuple[int, ...] = ()

    def follower_counts(self) -> list[int]:
        counts = [0] * self.users
        for _, followee in self.edges:
            counts[followee] += 1
        return counts

    def describe(self) -> str:
        top = sorted(self.follower_counts(), reverse=True)[:4]
        return (
            f"{self.name}: {self.users:,} users, {len(self.edges):,} follows, "
            f"top follower counts {top}"
        )


def read_reed98(folder: Path = REED98) -> tuple[int, list[tuple[int, int]]]:
    """The DeathStarBench graph's users and follows: each friendship of
    ``socfb-Reed98.edges`` (``src dst`` lines; others skipped) followed both ways, sorted.

    Raises `FileNotFoundError` naming the file when the data is not there."""
    path = folder / "socfb-Reed98.edges"
    edges: set[tuple[int, int]] = set()
    users = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 2 or not parts[0].isdigit() or not parts[1].isdigit():
            continue
        a, b = int(parts[0]), int(parts[1])
        if a != b:
            edges.update(((a, b), (b, a)))
            users = max(users, a + 1, b + 1)
    return users, sorted(edges)


def reed98(folder: Path = REED98, *, celebrities: int = 3) -> FollowGraph:
    """socfb-Reed98 as a `FollowGraph`; its best-connected people stand as celebrities."""
    users, edges = read_reed98(folder)
    return FollowGraph("socfb-Reed98", users, edges, _most_followed(users, edges, celebrities))


def power_law(
    users: int = 3_000,
    *,
    mean_followees: float = 20.0,
    zipf: float = 1.0,
    celebrities: int = 3,
    celebrity_reach: tuple[float, float] = (0.5, 0.9),
    seed: int = POWER_LAW_SEED,
) -> FollowGraph:
    """A believable network of ``users``: each follows about ``mean_followees`` accounts
    (exponentially spread, so most follow few and some follow many), picked by a Zipf law
    over a shuffled ranking (followers ~ 1/rank^zipf); ``celebrities`` accounts are each
    followed by a share of everyone drawn from ``celebrity_reach``, and follow at least
    twice the mean themselves (their home feed is the demo's first page).

    Seeded and deterministic: the same arguments give the same graph. Runs in about
    0.05 s for 3,000 users."""
    if users < 2:
        raise ValueError("a follow graph needs at least 2 users")
    rng = random.Random(seed)
    ranking = list(range(users))
    rng.shuffle(ranking)
    stars = ranking[:celebrities]
    ranked = ranking[celebrities:] or ranking
    # The stars hold the first ranks but are not drawn here: their reach below is their
    # following; on top of the Zipf head's, it would overshoot it.
    first_rank = celebrities + 1
    cumulative = list(accumulate((first_rank + i) ** -zipf for i in range(len(ranked))))
    starred = set(stars)
    edges: set[tuple[int, int]] = set()
    for follower in range(users):
        wanted = min(users - 1, 1 + int(rng.expovariate(1.0 / mean_followees)))
        picks = set(rng.choices(ranked, cum_weights=cumulative, k=wanted))
        picks.discard(follower)
        if follower in starred:
            # Distinct ones, unlike everyone else's draws, which repeat the Zipf head.
            least = min(len(ranked) - 1, int(2 * mean_followees))
            while len(picks) < least:
                picks.update(rng.choices(ranked, cum_weights=cumulative, k=least))
                picks.discard(follower)
        edges.update((follower, followee) for followee in picks)
    for star in stars:
        share = rng.uniform(*celebrity_reach)
        edges.update(
            (follower, star)
            for follower in range(users)
            if rng.random() < share and follower != star
        )
    ordered = sorted(edges)
    top = _most_followed(users, ordered, celebrities)
    return FollowGraph(f"power-law {users:,}", users, ordered, top)


def _most_followed(users: int, edges: Sequence[tuple[int, int]], count: int) -> tuple[int, ...]:
    followers = [0] * users
    for _, followee in edges:
        followers[followee] += 1
    # Ties broken by the lower number, so the answer is the same every time.
    return tuple(sorted(range(users), key=lambda user: (-followers[user], user))[:count])
