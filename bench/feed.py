"""``python -m bench feed``: home feeds under hybrid, pure push and pure pull fan-out.

Per graph (socfb-Reed98, a synthetic power-law graph with celebrities) and per mode, in
one process with the whole actor tree running:
  writes      tweets posted by concurrent writers through the tweet service, timed until
              the fan-out group's lag is back to 0 (tweets/s with fan-out completed), and
              the feed entries that took (entries/s);
  celebrities a few tweets by each celebrity: feed writes per celebrity tweet;
  reads       feed pages (10 tweets, the DeathStarBench page) for random active users:
              reads/s, p50/p99 latency, feed-cache and tweet-cache hit rates;
  memory      bytes per cached feed entry, from the cache nodes.
The tweet store and the feed cache are embedded unless named (``--tweet-store dynamodb``,
``--feed-cache redis://…``): pure pull pays a tweet-store query per followee on every
read, which in process is an in-memory slice and on DynamoDB a round trip. Users, the
graph and the log stay embedded (loading 120,000 accounts is not what is measured).
Beside the tweets/s, the floor measured in the same run: the same fan-out as a bare Python
loop over the same graph and authors (a deque per user; then grouped per cache node first),
and the ratio to it. Users who are active (a share of all) have warm feeds, as a running
service would; the others are away, so the middle tier skips them.
"""

from __future__ import annotations

import gc
import math
import random
import secrets
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit

import trio

from chirp.config import Settings
from chirp.fanout_policy import FanoutPolicy, Tier
from chirp.server import Chirp, assemble, fanout_policy
from chirp.services.fanout import FANOUT_TOPICS
from storage.slots import key_slot, node_of

from .graphs import Graph, power_law, reed98
from .results import Figure, Section
from .servers import Unreachable, check_answers, dynamodb, in_tasks, on_servers, run

MODES = ("hybrid", "push", "pull")
PAGE = 10


@dataclass
class Figures:
    mode: str
    floor_per_s: float = 0.0  # the same fan-out as a bare loop
    grouped_floor_per_s: float = 0.0  # …with each tweet's entries grouped per cache node
    posted_per_s: float = 0.0  # the write path alone, nothing consuming
    fanout_per_s: float = 0.0  # the fan-out group alone, draining that backlog
    tweets_per_s: float = 0.0  # both at once: posted with fan-out completed
    entries_per_s: float = 0.0
    entries_per_tweet: float = 0.0
    celebrity_writes_per_tweet: float | None = None
    reads_per_s: float = 0.0
    read_p50_ms: float = 0.0
    read_p99_ms: float = 0.0
    feed_hit_rate: float = 0.0
    tweet_hit_rate: float = 0.0
    bytes_per_entry: float = 0.0
    feed_megabytes: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Workload:
    tweets: int
    writers: int
    reads: int
    active_share: float
    celebrity_tweets: int = 5
    seed: int = 7

    def authors(self, graph: Graph) -> list[int]:
        rng = random.Random(self.seed)
        return [rng.randrange(graph.users) for _ in range(self.tweets)]

    def active(self, graph: Graph) -> list[int]:
        rng = random.Random(self.seed + 1)
        return sorted(rng.sample(range(graph.users), int(graph.users * self.active_share)))


@dataclass(frozen=True)
class Stores:
    """Where the tweets and the feed cache live: "memory", or a server's URL."""

    tweets: str = "memory"
    cache: str = "memory"

    @property
    def embedded(self) -> bool:
        return self.tweets == self.cache == "memory"

    def describe(self) -> str:
        tweets = "embedded" if self.tweets == "memory" else self.tweets.split("://")[0]
        cache = "embedded cache nodes" if self.cache == "memory" else "Redis"
        return f"tweet store: {tweets}; feed and tweet caches: {cache}"


def settings_for(mode: str, cache_nodes: int, stores: Stores = Stores()) -> Settings:
    return Settings(
        admin_token="bench-admin-token-0123456789",
        password_memory_kib=64,
        password_time_cost=1,
        fanout_mode=mode,
        cache_nodes=cache_nodes,
        tweets=stores.tweets,
        cache=stores.cache,
        namespace="" if stores.embedded else f"bench{secrets.token_hex(4)}",
    )


async def load(chirp: Chirp, graph: Graph, work: Workload, policy: FanoutPolicy) -> list[int]:
    """Accounts, follows and activity straight into the stores; warm caches for the
    active users (their feeds) and for the authors read at read time (their recent
    tweets), as a service that has been running would have them."""
    stores, now = chirp.stores, datetime.now(UTC)
    ids = []
    for n in range(graph.users):
        user = await stores.users.create(
            username=f"u{n}",
            email=f"u{n}@bench.example",
            password_hash="-",
            display_name=f"User {n}",
            created_at=now,
        )
        ids.append(user.user_id)
    stores.graph.load((ids[a], ids[b]) for a, b in graph.edges)

    async def warm(n: int) -> None:
        await stores.activity.touch(ids[n], now.timestamp())
        await stores.cache.store_feed(ids[n], [])

    await in_tasks(work.active(graph), warm)
    counts = await stores.graph.counts(ids)
    for user_id in ids:
        if policy.tier_for(counts[user_id][0]) is Tier.PULL:
            await stores.cache.store_celeb(user_id, [])
    return ids


async def settled(chirp: Chirp) -> None:
    while True:
        lags = [sum(await chirp.log.lag("fanout", t)) for t in FANOUT_TOPICS]
        if not any(lags):
            return
        await trio.sleep(0.005)


async def write_phase(
    chirp: Chirp, ids: list[int], authors: list[int], writers: int, label: str, *, settle: bool
) -> float:
    """Seconds to post a tweet by each of ``authors`` and, with ``settle``, for the
    fan-out to complete."""
    post = chirp.services.tweets.post

    async def writer(index: int) -> None:
        for i in range(index, len(authors), writers):
            await post(ids[authors[i]], f"tweet {i} {label} from the bench")

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for index in range(writers):
            nursery.start_soon(writer, index)
    if settle:
        await settled(chirp)
    return time.perf_counter() - started


@dataclass
class ReadTimes:
    per_s: float
    p50_ms: float
    p99_ms: float
    feed_hit_rate: float  # reads served from a cached feed, not regenerated


async def timed_reads(chirp: Chirp, readers: list[int]) -> ReadTimes:
    """A home-feed page for each of ``readers``, one after another."""
    feeds, latencies, regenerated = chirp.services.feeds, [], 0
    started = time.perf_counter()
    for reader in readers:
        begun = time.perf_counter()
        page = await feeds.read(reader, limit=PAGE, max_id=None)
        latencies.append(time.perf_counter() - begun)
        regenerated += page.regenerated
    per_s = len(readers) / (time.perf_counter() - started)
    latencies.sort()
    return ReadTimes(
        per_s,
        1000 * statistics.median(latencies),
        1000 * latencies[int(0.99 * (len(latencies) - 1))],
        1 - regenerated / len(readers),
    )


async def read_phase(chirp: Chirp, readers: list[int], figures: Figures) -> None:
    cached = chirp.services.tweets.cached
    hits, misses = cached.hits, cached.misses
    times = await timed_reads(chirp, readers)
    figures.reads_per_s, figures.read_p50_ms = times.per_s, times.p50_ms
    figures.read_p99_ms, figures.feed_hit_rate = times.p99_ms, times.feed_hit_rate
    looked = (cached.hits - hits) + (cached.misses - misses)
    figures.tweet_hit_rate = (cached.hits - hits) / looked if looked else 0.0


async def memory(chirp: Chirp, figures: Figures) -> None:
    if chirp.settings.cache != "memory":
        figures.bytes_per_entry = figures.feed_megabytes = math.nan  # Redis's, not ours
        return
    entries = taken = 0
    for n in range(chirp.settings.cache_nodes):
        answer = await chirp.system.ref(chirp.stores.cache.node_name(n)).ask(("memory",))
        entries += answer["feed_entries"]
        taken += answer["feed_bytes"]
    figures.bytes_per_entry = taken / entries if entries else 0.0
    figures.feed_megabytes = taken / 2**20


async def run_mode(
    graph: Graph, mode: str, work: Workload, cache_nodes: int, stores: Stores
) -> Figures:
    settings = settings_for(mode, cache_nodes, stores)
    if stores.embedded:
        return await measure(assemble(settings, consumers=False), graph, mode, work)
    async with on_servers(settings, consumers=False) as chirp:
        return await measure(chirp, graph, mode, work)


async def measure(chirp: Chirp, graph: Graph, mode: str, work: Workload) -> Figures:
    figures = Figures(mode)
    async with trio.open_nursery() as nursery:
        await nursery.start(chirp.system.run)
        policy = chirp.fanout.policy
        ids = await load(chirp, graph, work, policy)
        # Millions of loaded objects that live as long as the process: out of the cyclic
        # collector's way, or its full passes land at random in whatever is being timed.
        gc.collect()
        gc.freeze()
        authors = work.authors(graph)
        # The write path alone, then the fan-out group alone on what it left behind.
        figures.posted_per_s = work.tweets / await write_phase(
            chirp, ids, authors, work.writers, "backlog", settle=False
        )
        writes = chirp.fanout.writes
        started = time.perf_counter()
        await chirp.start_consumers()
        await settled(chirp)
        elapsed = time.perf_counter() - started
        figures.fanout_per_s = work.tweets / elapsed
        figures.entries_per_s = sum(writes.values()) / elapsed
        figures.entries_per_tweet = sum(writes.values()) / work.tweets
        # Both at once, as a live service runs.
        elapsed = await write_phase(chirp, ids, authors, work.writers, "live", settle=True)
        figures.tweets_per_s = work.tweets / elapsed
        if graph.celebrities:
            writes.clear()
            stars = [n for n in graph.celebrities for _ in range(work.celebrity_tweets)]
            await write_phase(chirp, ids, stars, len(graph.celebrities), "star", settle=True)
            figures.celebrity_writes_per_tweet = sum(writes.values()) / len(stars)
        rng = random.Random(work.seed + 2)
        active = work.active(graph)
        await read_phase(chirp, [ids[rng.choice(active)] for _ in range(work.reads)], figures)
        await memory(chirp, figures)
        await chirp.system.shutdown()
        nursery.cancel_scope.cancel()
    gc.unfreeze()
    return figures


def floor(graph: Graph, work: Workload, cache_nodes: int, mode: str) -> tuple[float, float]:
    """Tweets/s of the same fan-out as a bare loop under the same policy (every follower's
    deque, or the active ones', or none), then with each tweet's entries grouped per cache
    node first, as the service's batches are."""
    policy = fanout_policy(settings_for(mode, cache_nodes))
    followers = graph.followers()
    active = set(work.active(graph))
    reached = []
    for users in followers:
        tier = policy.tier_for(len(users))
        if tier is Tier.PULL:
            reached.append([])
        elif tier is Tier.PUSH_ACTIVE:
            reached.append([u for u in users if u in active])
        else:
            reached.append(users)
    authors = work.authors(graph)

    feeds = [deque(maxlen=1000) for _ in range(graph.users)]
    started = time.perf_counter()
    for tweet_id, author in enumerate(authors):
        feeds[author].appendleft(tweet_id)
        for follower in reached[author]:
            feeds[follower].appendleft(tweet_id)
    bare = len(authors) / (time.perf_counter() - started)

    node = [node_of(key_slot(f"feed:{{{u}}}"), cache_nodes) for u in range(graph.users)]
    feeds = [deque(maxlen=1000) for _ in range(graph.users)]
    started = time.perf_counter()
    for tweet_id, author in enumerate(authors):
        grouped: list[list[int]] = [[] for _ in range(cache_nodes)]
        grouped[node[author]].append(author)
        for follower in reached[author]:
            grouped[node[follower]].append(follower)
        for users in grouped:
            for user in users:
                feeds[user].appendleft(tweet_id)
    return bare, len(authors) / (time.perf_counter() - started)


def table(graph: Graph, rows: list[Figures], stores: Stores) -> str:
    lines = [
        graph.describe(),
        stores.describe(),
        "writes, tweets/s: posted (nothing consuming) | fan-out alone (draining them) | "
        "both live (posted, fan-out completed); floors: the same fan-out as a bare loop, "
        "and grouped per cache node; ÷ = fan-out alone over the grouped floor",
        f"{'mode':<7}{'floor':>12}{'grouped':>11}{'posted':>9}{'fan-out':>9}{'÷':>6}{'live':>8}{'entries/s':>11}"
        f"{'/tweet':>8}{'/celeb':>9}{'reads/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'feed hit':>9}{'tweet hit':>10}{'B/entry':>8}{'feeds MB':>9}",
    ]
    for f in rows:
        celeb = f.celebrity_writes_per_tweet
        lines.append(
            f"{f.mode:<7}{f.floor_per_s:>12,.0f}{f.grouped_floor_per_s:>11,.0f}"
            f"{f.posted_per_s:>9,.0f}{f.fanout_per_s:>9,.0f}"
            f"{f.fanout_per_s / f.grouped_floor_per_s:>6.2f}"
            f"{f.tweets_per_s:>8,.0f}{f.entries_per_s:>11,.0f}"
            f"{f.entries_per_tweet:>8.1f}{'-' if celeb is None else f'{celeb:,.0f}':>9}"
            f"{f.reads_per_s:>9,.0f}{f.read_p50_ms:>8.2f}{f.read_p99_ms:>8.2f}"
            f"{f.feed_hit_rate:>9.0%}{f.tweet_hit_rate:>10.0%}"
            f"{_or_dash(f.bytes_per_entry, '.1f'):>8}{_or_dash(f.feed_megabytes, '.1f'):>9}"
        )
    by_mode = {f.mode: f for f in rows}
    if {"hybrid", "pull"} <= by_mode.keys():
        ratio = by_mode["hybrid"].reads_per_s / by_mode["pull"].reads_per_s
        lines.append(f"hybrid reads ÷ pure pull reads: {ratio:.1f}×")
    hybrid, push = by_mode.get("hybrid"), by_mode.get("push")
    if hybrid and push and hybrid.celebrity_writes_per_tweet and push.celebrity_writes_per_tweet:
        share = hybrid.celebrity_writes_per_tweet / push.celebrity_writes_per_tweet
        lines.append(f"hybrid writes per celebrity tweet ÷ pure push: {share:.5f}")
    return "\n".join(lines)


def _or_dash(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def main(
    *,
    graphs: list[str],
    modes: list[str],
    users: int,
    tweets: int,
    reads: int,
    writers: int,
    active_share: float,
    cache_nodes: int,
    tweet_store: str = "memory",
    dynamodb_url: str | None = None,
    feed_cache: str = "memory",
) -> None:
    work = Workload(tweets=tweets, writers=writers, reads=reads, active_share=active_share)
    try:
        if feed_cache != "memory":
            check_answers("Redis", feed_cache, 6379)
        if tweet_store == "memory":
            run_graphs(graphs, modes, users, work, cache_nodes, Stores(cache=feed_cache))
            return
        with dynamodb(dynamodb_url) as (endpoint, note):
            print(note)
            stores = Stores(f"dynamodb://{urlsplit(endpoint).netloc}", feed_cache)
            run_graphs(graphs, modes, users, work, cache_nodes, stores)
    except Unreachable as exc:
        raise SystemExit(f"bench feed: {exc}") from None


def run_graphs(
    graphs: list[str],
    modes: list[str],
    users: int,
    work: Workload,
    cache_nodes: int,
    stores: Stores,
    say: Callable[[str], None] = partial(print, flush=True),
) -> list[tuple[Graph, list[Figures]]]:
    measured = []
    for name in graphs:
        started = time.perf_counter()
        graph = reed98() if name == "reed98" else power_law(users)
        say(f"\n{graph.name}: built in {time.perf_counter() - started:.1f} s")
        rows = []
        for mode in modes:
            figures = run(run_mode, graph, mode, work, cache_nodes, stores)
            figures.floor_per_s, figures.grouped_floor_per_s = floor(graph, work, cache_nodes, mode)
            rows.append(figures)
            say(f"  {mode} done")
        say(table(graph, rows, stores))
        measured.append((graph, rows))
    return measured


def section(
    graphs: list[str], users: int, work: Workload, say: Callable[[str], None] = lambda _: None
) -> Section:
    """Every mode on every graph, embedded: the report's push vs pull vs hybrid."""
    stores = Stores()
    measured = run_graphs(graphs, list(MODES), users, work, 3, stores, say)
    figures: list[Figure] = []
    for graph, rows in measured:
        by_mode = {f.mode: f for f in rows}
        for f in rows:
            figures.append(Figure(f"{graph.name}: {f.mode} reads", f.reads_per_s, "reads/s"))
        if {"hybrid", "pull"} <= by_mode.keys():
            figures.append(
                Figure(
                    f"{graph.name}: hybrid reads ÷ pure pull reads",
                    by_mode["hybrid"].reads_per_s / by_mode["pull"].reads_per_s,
                    "×",
                )
            )
        for f in rows:
            figures.append(
                Figure(
                    f"{graph.name}: {f.mode} fan-out",
                    f.fanout_per_s,
                    "tweets/s",
                    "the same fan-out as a bare loop",
                    f.grouped_floor_per_s,
                )
            )
    text = "\n\n".join(table(graph, rows, stores) for graph, rows in measured)
    data = {
        graph.name: {"graph": graph.describe(), "modes": [asdict(f) for f in rows]}
        for graph, rows in measured
    }
    return Section("feed", "Home feeds: hybrid vs pure push vs pure pull", figures, text, data)
