"""The demo's population once it exists: who they are, how chatty, how followed, and what
they posted lately. Seeding fills it; the trickle draws from it and adds to it, and it
outlives the trickle's restarts (the trickle actor closes over it)."""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate

from .graph import FollowGraph
from .people import Person

RECENT = 2_000  # tweets remembered as things to like, retweet and reply to


@dataclass
class Crowd:
    """Graph users 0..n-1 as chirp accounts. Who acts is drawn by ``activity`` (popular
    people post more, and each has a chattiness of their own); whose tweets get engagement
    by their author's followers."""

    graph: FollowGraph
    people: list[Person]
    user_ids: list[int]  # chirp's user id of each graph user
    rng: random.Random
    followers: list[int] = field(default_factory=list)
    activity: list[float] = field(default_factory=list)  # cumulative weights, by graph user
    recent: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=RECENT))
    done: Counter[str] = field(default_factory=Counter)  # the trickle's actions, by kind
    skipped: Counter[str] = field(default_factory=Counter)  # refused as expected, by kind

    @classmethod
    def of(
        cls, graph: FollowGraph, people: list[Person], user_ids: list[int], *, seed: int
    ) -> Crowd:
        rng = random.Random(f"crowd:{seed}")  # not the people's stream (`invent_people`)
        followers = graph.follower_counts()
        chattiness = [rng.lognormvariate(0.0, 0.8) for _ in followers]
        weights = [(count + 1) ** 0.5 * c for count, c in zip(followers, chattiness, strict=True)]
        return cls(graph, people, user_ids, rng, followers, list(accumulate(weights)))

    @property
    def login(self) -> Person:
        """The demo's login: the most followed account."""
        return self.people[self.graph.celebrities[0]] if self.graph.celebrities else self.people[0]

    def actors(self, count: int) -> list[int]:
        """``count`` graph users to act, the active ones more often."""
        return self.rng.choices(range(len(self.people)), cum_weights=self.activity, k=count)

    def targets(
        self, count: int, among: Sequence[tuple[int, int]] | None = None
    ) -> list[tuple[int, int]]:
        """``count`` (tweet id, author) pairs to engage with, drawn from ``among`` (the
        recent tweets by default), a tweet by a well-followed author more often. Empty if
        there are none."""
        pool = list(self.recent if among is None else among)
        if not pool:
            return []
        followers = self.followers
        weights = list(accumulate(followers[author] + 3 for _, author in pool))
        return self.rng.choices(pool, cum_weights=weights, k=count)
