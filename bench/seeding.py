"""Seeding a running chirp over its own HTTP API: accounts (each logged in once, its token
kept for the load), the graph's follows, tweets, and every feed read once so the load
meets warm caches. Nothing here is timed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import httpx

from .graphs import Graph
from .servers import LOADERS, in_tasks

PASSWORD = "bench password 0123"
HASHTAGS = ("chirp", "bench", "trio", "fanout", "reed98", "redis", "python", "actors")


@dataclass
class Seeded:
    """The server's view of the graph: chirp user ids and tokens by graph user."""

    user_ids: list[int] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    tweet_ids: list[str] = field(default_factory=list)

    def auth(self, user: int) -> tuple[tuple[str, str], ...]:
        return (("Authorization", f"Bearer {self.tokens[user]}"),)


def expect(response: httpx.Response, *statuses: int) -> Any:
    if response.status_code not in statuses:
        raise RuntimeError(
            f"seeding: {response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    return response.json() if response.content else None


async def seed(
    url: str,
    graph: Graph,
    *,
    tweets_per_user: int,
    seed: int = 7,
) -> Seeded:
    """Sign every graph user up, follow its edges, post ``tweets_per_user`` tweets each
    (round by round, so feeds interleave authors), then read every feed twice."""
    rng = random.Random(seed)
    seeded = Seeded(user_ids=[0] * graph.users, tokens=[""] * graph.users)
    limits = httpx.Limits(max_connections=LOADERS, max_keepalive_connections=LOADERS)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:

        async def sign_up(user: int) -> None:
            body = {
                "username": f"u{user}",
                "email": f"u{user}@bench.example",
                "password": PASSWORD,
                "display_name": f"Bench user {user}",
            }
            created = expect(await client.post("/api/v1/users", json=body), 201)
            seeded.user_ids[user] = created["user"]["user_id"]
            seeded.tokens[user] = created["access_token"]

        async def follow(edge: tuple[int, int]) -> None:
            follower, followee = edge
            path = f"/api/v1/users/{seeded.user_ids[followee]}/follow"
            expect(await client.post(path, headers=dict(seeded.auth(follower))), 200)

        async def post(user: int) -> None:
            tag = rng.choice(HASHTAGS)
            body = {"content": f"seed tweet {rng.getrandbits(48):x} from u{user} #{tag}"}
            answer = await client.post("/api/v1/tweet", json=body, headers=dict(seeded.auth(user)))
            seeded.tweet_ids.append(expect(answer, 201)["tweet_id"])

        sources: list[str] = []

        async def warm(user: int) -> None:
            answer = await client.get(
                "/api/v1/feed", params={"limit": 100}, headers=dict(seeded.auth(user))
            )
            expect(answer, 200)
            sources.append(answer.headers.get("X-Feed-Source", ""))

        await in_tasks(range(graph.users), sign_up)
        await in_tasks(list(graph.edges), follow)
        for _ in range(tweets_per_user):
            await in_tasks(range(graph.users), post)
        # Twice: the first pass builds every feed, the second finds them all cached.
        await in_tasks(range(graph.users), warm)
        sources.clear()
        await in_tasks(range(graph.users), warm)
        if set(sources) != {"cache"}:
            raise RuntimeError(f"seeding: feeds not warm after two reads: {set(sources)}")
    # Snowflakes in order: the same seed then draws the same tweets.
    seeded.tweet_ids.sort()
    return seeded
