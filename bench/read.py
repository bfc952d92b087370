"""``python -m bench read``: trending, search and notification reads, in process.

A chirp with the whole tree running is loaded through the write path (accounts in the
store, tweets posted with hashtags and mentions), every consumer group settles, then each
read is timed one call after another: reads/s and p50/p99. Beside each, its ceiling in
the same run: the same answer straight from its store or index, without the service
(hydration, grouping, response shaping). Last, a burst of tweets is posted and the search
index is watched: how long from a tweet's acknowledgement until a search finds it.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import trio

from chirp.config import Settings
from chirp.server import Chirp, assemble
from chirp.services.notifications import NOTIFY_TOPICS
from chirp.services.search import parse
from chirp.services.trending import TRENDING_TOPICS
from storage.search_index import DEEPEST, TweetQuery

from .results import Figure, Section

TAGS = [f"topic{n}" for n in range(50)]
WORDS = ["apple", "river", "quick", "music", "coffee", "green", "travel", "python", "night"]


@dataclass
class Timing:
    name: str
    per_second: float
    p50_ms: float
    p99_ms: float


async def timed(name: str, calls: int, call: Callable[[int], Awaitable[object]]) -> Timing:
    latencies = []
    started = time.perf_counter()
    for n in range(calls):
        begun = time.perf_counter()
        await call(n)
        latencies.append(time.perf_counter() - begun)
    total = time.perf_counter() - started
    latencies.sort()
    return Timing(
        name,
        calls / total,
        1000 * statistics.median(latencies),
        1000 * latencies[int(0.99 * (calls - 1))],
    )


async def settled(chirp: Chirp) -> None:
    groups = [("trending", TRENDING_TOPICS), ("notify", NOTIFY_TOPICS)]
    while True:
        lags = [sum(await chirp.log.lag(g, t)) for g, topics in groups for t in topics]
        if not any(lags) and not await chirp.services.search.applied.lag(chirp.log):
            break
        await trio.sleep(0.01)
    await chirp.system.ref("search.indexer").ask(("commit",))


async def load(chirp: Chirp, users: int, tweets: int) -> list[int]:
    ids = []
    for n in range(users):
        user = await chirp.stores.users.create(
            username=f"u{n}",
            email=f"u{n}@bench.example",
            password_hash="-",
            display_name=f"User {n}",
            created_at=datetime.now(UTC),
        )
        ids.append(user.user_id)
    rng = random.Random(1)

    async def writer(index: int) -> None:
        for i in range(index, tweets, 32):
            words = " ".join(rng.sample(WORDS, 3))
            tags = " ".join(f"#{t}" for t in rng.sample(TAGS, 2))
            text = f"{words} {tags} @u{rng.randrange(users)} {i}"
            await chirp.services.tweets.post(ids[rng.randrange(users)], text)

    async with trio.open_nursery() as nursery:
        for index in range(32):
            nursery.start_soon(writer, index)
    await settled(chirp)
    for table in chirp.services.trending.tables:
        await chirp.services.trending.rescore(table)
    return ids


async def indexing_lag(chirp: Chirp, author: int, burst: int) -> list[float]:
    """Seconds from each burst tweet's acknowledgement until a search finds it (one
    search sees them all: the burst stays within a query's depth)."""
    burst = min(burst, DEEPEST)
    acked: dict[int, float] = {}
    seen: dict[int, float] = {}
    query = TweetQuery(words=("burstmarker",))

    async def watch() -> None:
        while len(seen) < burst:
            found = await chirp.services.search.index.search_tweets(query, limit=1000, offset=0)
            now = time.perf_counter()
            for tweet_id in found:
                seen.setdefault(tweet_id, now)
            await trio.sleep(0.02)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch)
        for n in range(burst):
            view = await chirp.services.tweets.post(author, f"burstmarker number {n}")
            acked[view.tweet.tweet_id] = time.perf_counter()
    return sorted(seen[t] - acked[t] for t in acked)


async def measure(users: int, tweets: int, reads: int, burst: int) -> Section:
    chirp = assemble(
        Settings(
            admin_token="bench-admin-token-0123456789",
            password_memory_kib=64,
            password_time_cost=1,
        )
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(chirp.system.run)
        started = time.perf_counter()
        ids = await load(chirp, users, tweets)
        lines = [
            f"loaded {users:,} users and {tweets:,} tweets in {time.perf_counter() - started:.1f} s"
        ]
        services, stores, index = chirp.services, chirp.stores, chirp.services.search.index
        rng = random.Random(2)
        queries = [rng.choice([*WORDS, *(f"#{t}" for t in TAGS)]) for _ in range(reads)]
        readers = [rng.choice(ids) for _ in range(reads)]
        pairs = [
            (
                await timed(
                    "trending, served", reads, lambda n: services.trending.top("global", 10)
                ),
                await timed(
                    "trending table, store", reads, lambda n: stores.trends.top("global", 10)
                ),
            ),
            (
                await timed(
                    "search tweets, hydrated",
                    reads,
                    lambda n: services.search.search(
                        queries[n], "tweets", limit=20, cursor=None, viewer=None
                    ),
                ),
                await timed(
                    "search tweets, index ids",
                    reads,
                    lambda n: index.search_tweets(parse(queries[n]), limit=20, offset=0),
                ),
            ),
            (
                await timed(
                    "search users, hydrated",
                    reads,
                    lambda n: services.search.search(
                        f"u{n % 100}", "users", limit=20, cursor=None, viewer=None
                    ),
                ),
                await timed(
                    "search users, index ids",
                    reads,
                    lambda n: index.search_users(f"u{n % 100}", limit=20, offset=0),
                ),
            ),
            (
                await timed(
                    "notifications page",
                    reads,
                    lambda n: services.notifications.page(readers[n], limit=20, max_id=None),
                ),
                await timed(
                    "notification inbox, store",
                    reads,
                    lambda n: stores.notifications.inbox(readers[n], limit=20),
                ),
            ),
        ]
        lines.append(
            f"\n{'read':<28}{'reads/s':>10}{'p50 ms':>9}{'p99 ms':>9}   "
            f"{'ceiling, same run':<28}{'reads/s':>10}  ratio"
        )
        figures = []
        for served, ceiling in pairs:
            lines.append(
                f"{served.name:<28}{served.per_second:>10,.0f}{served.p50_ms:>9.3f}"
                f"{served.p99_ms:>9.3f}   {ceiling.name:<28}{ceiling.per_second:>10,.0f}"
                f"  {served.per_second / ceiling.per_second:5.2f}"
            )
            figures.append(
                Figure(served.name, served.per_second, "reads/s", ceiling.name, ceiling.per_second)
            )
        lags = await indexing_lag(chirp, ids[0], burst)
        p99_lag = lags[int(0.99 * (len(lags) - 1))]
        lines.append(
            f"\nsearch indexing lag, {burst:,} tweets posted back to back: "
            f"p50 {1000 * statistics.median(lags):.0f} ms, "
            f"p99 {1000 * p99_lag:.0f} ms, "
            f"max {1000 * lags[-1]:.0f} ms (the indexer commits every second)"
        )
        figures.append(Figure("search indexing lag p99", 1000 * p99_lag, "ms"))
        await chirp.system.shutdown()
        nursery.cancel_scope.cancel()
    return Section("read", "Trending, search and notification reads", figures, "\n".join(lines))


def section(users: int, tweets: int, reads: int, burst: int) -> Section:
    return trio.run(measure, users, tweets, reads, burst)


def main(users: int, tweets: int, reads: int, burst: int) -> None:
    print(section(users, tweets, reads, burst).text)
