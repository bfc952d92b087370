"""Seeding a fresh chirp with a believable network and some history, in seconds.

Accounts and follows go straight into the stores, as `bench.feed` loads them (thousands
of sign-ups through the service would each hash a password: minutes). Everything after
that goes through the services, so its events flow through the log and the fan-out,
trending, search and notify groups consume them as they would any user's."""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass

import trio
from tqdm import tqdm

from chirp.pool import in_tasks
from chirp.server import Chirp
from chirp.services.auth import PasswordPolicy, Passwords
from chirp.services.errors import ServiceError
from chirp.services.fanout import FANOUT_TOPICS
from chirp.services.notifications import NOTIFY_TOPICS
from chirp.services.trending import TRENDING_TOPICS
from chirp.services.users import utc_now
from chirp.workers.search import INDEXER
from chirp.workers.trending import TrendingWorkers

from .chatter import hot_tags, reply_text, tweet_text
from .crowd import Crowd
from .graph import FollowGraph
from .people import Person, invent_people
from .trickle import hot_turn

#: Every demo account's password: one argon2 hash, computed once, stored for them all.
DEMO_PASSWORD = "chirp-demo"
#: Service calls in flight at once while seeding: enough to fill the log's partition
#: actors' batches (the write path runs about twice as fast with many writers).
WRITERS = 32
ROUNDS = 5  # of posting, then engaging with what was posted
#: Waiting for the consumer groups to apply the history: a hang guard, not a figure.
SETTLE_LIMIT = 120.0
CONSUMED = {"fanout": FANOUT_TOPICS, "trending": TRENDING_TOPICS, "notify": NOTIFY_TOPICS}


@dataclass(frozen=True)
class History:
    """How much history to post, per user of the graph (rounded), and the seed that
    draws it."""

    tweets: float = 2.0
    replies: float = 0.3
    likes: float = 3.0
    retweets: float = 0.4
    celebrity_tweets: int = 5  # at least this many by each celebrity
    seed: int = 1


@dataclass(frozen=True)
class Seeded:
    """What seeding made: the population (for the trickle), counts by kind (``users``,
    ``follows``, ``tweets``, ``replies``, ``likes``, ``retweets``, ``skipped``) and the
    seconds it took."""

    crowd: Crowd
    counts: Counter[str]
    seconds: float

    def summary(self) -> str:
        c = self.counts
        return (
            f"demo: {self.crowd.graph.name}: {c['users']:,} users, {c['follows']:,} follows, "
            f"{c['tweets']:,} tweets, {c['replies']:,} replies, {c['likes']:,} likes, "
            f"{c['retweets']:,} retweets, seeded in {self.seconds:.1f} s"
        )


async def seed(
    chirp: Chirp,
    graph: FollowGraph,
    *,
    history: History = History(),
    progress: bool = True,
) -> Seeded:
    """Fill a freshly assembled chirp, whose tree runs, with ``graph``'s people and
    follows and ``history``; return once the consumer groups have applied it all and
    the search index committed and every trending table scored, so the first page
    anyone reads is full.

    ``progress`` shows a bar on stderr. Cancelling stops it part-way, leaving what was
    written (the process is about to end). A write refused as the rules say (a repeated
    text is spam) is counted as ``skipped``, not raised. Raises `TimeoutError` if the
    groups do not catch up within `SETTLE_LIMIT` seconds."""
    started = time.perf_counter()
    settings = chirp.settings
    cast = invent_people(
        graph.users,
        regions=settings.trend_regions,
        celebrities=graph.celebrities,
        seed=history.seed,
    )
    counts: Counter[str] = Counter()
    tweets = round(graph.users * history.tweets)
    tweets += history.celebrity_tweets * len(graph.celebrities)
    sizes = {
        kind: round(graph.users * per_user)
        for kind, per_user in (
            ("replies", history.replies),
            ("likes", history.likes),
            ("retweets", history.retweets),
        )
    }
    total = graph.users + tweets + sum(sizes.values())
    with tqdm(
        total=total,
        desc="seeding demo",
        unit=" writes",
        file=sys.stderr,
        disable=not progress,
        mininterval=0.25,
        dynamic_ncols=True,
    ) as bar:
        policy = PasswordPolicy(
            memory_kib=settings.password_memory_kib, time_cost=settings.password_time_cost
        )
        password_hash = await Passwords(policy).hash(DEMO_PASSWORD)
        user_ids = await _accounts(chirp, cast, password_hash, bar)
        counts["users"] = len(user_ids)
        counts["follows"] = await _follows(chirp, graph, user_ids)
        crowd = Crowd.of(graph, cast, user_ids, seed=history.seed)
        celebrity_tweets = history.celebrity_tweets * len(graph.celebrities)
        authors = crowd.actors(tweets - celebrity_tweets)
        authors += [s for s in graph.celebrities for _ in range(history.celebrity_tweets)]
        crowd.rng.shuffle(authors)
        # In rounds, each engaging with what was posted so far, so the newest page of a
        # feed mixes tweets, replies and retweets as a living one does.
        posted: list[tuple[int, int]] = []
        engaged: set[tuple[str, int, int]] = set()
        cuts = _cuts(len(authors))
        engagement_cuts = {kind: _cuts(n) for kind, n in sizes.items()}
        for r in range(ROUNDS):
            posted += await _tweets(chirp, crowd, authors[cuts[r] : cuts[r + 1]], counts, bar)
            part = {kind: c[r + 1] - c[r] for kind, c in engagement_cuts.items()}
            await _engagement(chirp, crowd, posted, part, engaged, counts, bar)
        bar.set_description("consumers catching up")
        await caught_up(chirp)
        await refresh(chirp)
    return Seeded(crowd, counts, time.perf_counter() - started)


async def _accounts(chirp: Chirp, cast: list[Person], password_hash: str, bar: tqdm) -> list[int]:
    """Accounts straight into the user store (one shared hash), then each profile through
    the user service, which announces it: search indexes every account."""
    store, users, now = chirp.stores.users, chirp.services.users, utc_now()
    ids: list[int] = []
    for person in cast:
        user = await store.create(
            username=person.username,
            email=person.email,
            password_hash=password_hash,
            display_name=person.display_name,
            created_at=now,
        )
        ids.append(user.user_id)

    async def profile(index: int) -> None:
        person = cast[index]
        await users.update_profile(ids[index], bio=person.bio, region=person.region)
        bar.update()

    await in_tasks(range(len(cast)), profile, WRITERS)
    return ids


async def _follows(chirp: Chirp, graph: FollowGraph, ids: list[int]) -> int:
    """The graph's edges; in one step where the store loads in bulk (the embedded one),
    else one follow at a time through the service. Before any tweet exists, so nothing
    is missing from a feed for want of a ``user_followed`` event."""
    edges = ((ids[follower], ids[followee]) for follower, followee in graph.edges)
    load = getattr(chirp.stores.graph, "load", None)
    if load is not None:
        return load(edges)
    follow = chirp.services.users.follow
    await in_tasks(list(edges), lambda edge: follow(*edge), WRITERS)
    return len(graph.edges)


async def _tweets(
    chirp: Chirp, crowd: Crowd, authors: list[int], counts: Counter[str], bar: tqdm
) -> list[tuple[int, int]]:
    """A tweet by each of ``authors``, on their topics, some with the hot tags of the
    moment (enough authors use them that they trend from the first page) and some
    mentioning a well-known account. Answers (tweet id, author) of those posted."""
    rng = crowd.rng
    hot = hot_tags(hot_turn())
    famous = [crowd.people[a].username for a in crowd.graph.celebrities]
    plan = [
        (
            author,
            tweet_text(
                rng,
                crowd.people[author].topics,
                hot,
                mention=rng.choice(famous) if famous and rng.random() < 0.05 else None,
            ),
        )
        for author in authors
    ]
    post, ids = chirp.services.tweets.post, crowd.user_ids
    posted: list[tuple[int, int]] = []

    async def one(item: tuple[int, str]) -> None:
        author, text = item
        try:
            view = await post(ids[author], text)
        except ServiceError:
            counts["skipped"] += 1
        else:
            counts["tweets"] += 1
            posted.append((view.tweet.tweet_id, author))
            crowd.recent.append((view.tweet.tweet_id, author))
        bar.update()

    await in_tasks(plan, one, WRITERS)
    return posted


async def _engagement(
    chirp: Chirp,
    crowd: Crowd,
    posted: list[tuple[int, int]],
    sizes: dict[str, int],
    engaged: set[tuple[str, int, int]],
    counts: Counter[str],
    bar: tqdm,
) -> None:
    """Replies, likes and retweets (as many as ``sizes`` says of each) of the ``posted``
    (tweet id, author), interleaved; each by an active user, each of a well-followed
    author's tweet more often. Nobody engages with their own tweet, and each like or
    retweet is made once (``engaged`` holds those made so far, by kind, actor, tweet)."""
    rng = crowd.rng
    plan: list[tuple[str, int, int]] = []
    for kind, count in sizes.items():
        for actor, (tweet, author) in zip(
            crowd.actors(count), crowd.targets(count, posted), strict=True
        ):
            if actor != author and (kind == "replies" or (kind, actor, tweet) not in engaged):
                engaged.add((kind, actor, tweet))
                plan.append((kind, actor, tweet))
    bar.total -= sum(sizes.values()) - len(plan)
    bar.refresh()
    rng.shuffle(plan)
    tweets, ids = chirp.services.tweets, crowd.user_ids
    replies = {(actor, tweet): reply_text(rng) for kind, actor, tweet in plan if kind == "replies"}

    async def one(item: tuple[str, int, int]) -> None:
        kind, actor, tweet = item
        try:
            if kind == "likes":
                await tweets.like(ids[actor], tweet)
            elif kind == "retweets":
                await tweets.retweet(ids[actor], tweet)
            else:
                view = await tweets.post(ids[actor], replies[actor, tweet], reply_to=tweet)
                crowd.recent.append((view.tweet.tweet_id, actor))
        except ServiceError:
            counts["skipped"] += 1
        else:
            counts[kind] += 1
        bar.update()

    await in_tasks(plan, one, WRITERS)


def _cuts(count: int) -> list[int]:
    """Where `ROUNDS` near-equal parts of ``count`` items begin and end: 0, …, count."""
    return [count * r // ROUNDS for r in range(ROUNDS + 1)]


async def caught_up(chirp: Chirp, *, limit: float = SETTLE_LIMIT) -> None:
    """Return once the fan-out, trending and notify groups and the search index have
    applied everything published so far. Asks their lag every 50 ms (the log tells no
    one when a group commits); raises `TimeoutError` after ``limit`` seconds."""
    log, search = chirp.log, chirp.services.search
    with trio.fail_after(limit):
        while True:
            lags = [sum(await log.lag(g, t)) for g, topics in CONSUMED.items() for t in topics]
            if not any(lags) and not await search.applied.lag(log):
                return
            await trio.sleep(0.05)


async def refresh(chirp: Chirp) -> None:
    """Commit the search index and score every trending table now rather than at their
    next tick, each through its actor (each has one writer)."""
    await chirp.system.ref(INDEXER).ask(("commit",))
    for table in chirp.services.trending.tables:
        await chirp.system.ref(TrendingWorkers.table_name(table)).ask(("rescore",))
