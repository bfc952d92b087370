"""Opening the stores the settings name: embedded ones in this process, or real servers."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from actors import ActorSpec, ActorSystem, SupervisorSpec
from chirp.config import Settings
from chirp.ids import last_id_at
from chirp.repair import STEP_LIMIT, UNCHANGED, repair_cut_short
from storage.cache_ttl import CacheTTL
from storage.durable import DurableStores
from storage.memory import (
    MemoryActivityStore,
    MemoryEngagementStore,
    MemoryEventLog,
    MemoryFeedCache,
    MemoryGraphStore,
    MemoryNotificationStore,
    MemoryRateLimitStore,
    MemoryTrendStore,
    MemoryTweetStore,
    MemoryUserStore,
    Retention,
)
from storage.protocols import (
    ActivityStore,
    Broadcast,
    EngagementStore,
    EventLog,
    FeedCache,
    GraphStore,
    NotificationStore,
    RateLimitStore,
    TrendStore,
    TweetStore,
    UserStore,
)
from storage.search_index import SearchIndex


@dataclass(frozen=True)
class TreePart:
    """Actors a backend runs in the supervision tree (the embedded log's partitions, the
    cache nodes), and how it finds them once the tree runs."""

    spec: SupervisorSpec
    attach: Callable[[ActorSystem], None]


@dataclass
class Backends:
    """The stores behind the services, and the actors they need (``parts``, by name,
    started before anything that uses them)."""

    users: UserStore
    graph: GraphStore
    engagement: EngagementStore
    tweets: TweetStore
    activity: ActivityStore
    trends: TrendStore
    notifications: NotificationStore
    cache: FeedCache
    rate_limits: RateLimitStore
    log: EventLog
    #: Names the user store in access tokens: a token is good only where its user is.
    token_context: str
    parts: dict[str, TreePart] = field(default_factory=dict)
    #: How this process reaches the service's others, and its name among them (None: it
    #: is the only one).
    broadcast: tuple[Broadcast, str] | None = None
    #: The Snowflake worker id leased for this process (None: the configured one), and
    #: its lease (it tells a new id through ``moved``).
    worker_id: int | None = None
    worker_lease: Any = None
    #: Every store lives in a server that outlives this process.
    shared: bool = False
    #: Every id this process makes must be above this one: the highest the stores kept
    #: in a data directory hold (0: nothing was recovered).
    id_floor: int = 0
    #: The search index, when it is kept on disk (None: `assemble` makes one in memory).
    search_index: SearchIndex | None = None
    #: The key that signs tokens when the settings give none (None: one per process).
    jwt_secret: str | None = None
    #: The stores' journal and snapshots, with ``settings.data_dir``.
    durable: DurableStores | None = None


def cache_ttl(settings: Settings) -> CacheTTL:
    return CacheTTL(feed=settings.feed_ttl_seconds, tweet=settings.tweet_ttl_seconds)


def embedded(settings: Settings) -> Backends:
    """Every store in this process (the default): cache nodes and log partitions are
    actors of the tree."""
    intensity = {"max_restarts": settings.max_restarts, "within": settings.restart_window}
    log = MemoryEventLog(
        settings.partitions,
        retention=Retention(
            max_age=settings.log_retention_hours * 3600, max_bytes=settings.log_retention_bytes
        ),
        mailbox_size=settings.mailbox_size,
    )
    cache = MemoryFeedCache(nodes=settings.cache_nodes, ttl=cache_ttl(settings))
    return Backends(
        users=MemoryUserStore(),
        graph=MemoryGraphStore(),
        engagement=MemoryEngagementStore(),
        tweets=MemoryTweetStore(),
        activity=MemoryActivityStore(),
        trends=MemoryTrendStore(),
        notifications=MemoryNotificationStore(),
        cache=cache,
        rate_limits=MemoryRateLimitStore(),
        log=log,
        # The embedded user store lives as long as this process; so do its tokens.
        token_context=f"memory:{secrets.token_hex(8)}",
        parts={
            "log": TreePart(log.supervisor_spec(**intensity), log.attach),
            "cache": TreePart(cache.supervisor_spec(**intensity), cache.attach),
        },
    )


@asynccontextmanager
async def open_backends(settings: Settings) -> AsyncIterator[Backends]:
    """The stores ``settings`` name, opened (and closed on exit): each real server is
    reached first, and one that does not answer raises `BackendUnavailable` naming it
    before anything starts. The rest are embedded."""
    backends = embedded(settings)
    async with AsyncExitStack() as stack:
        if settings.data_dir is not None:
            await _open_durable(stack, settings.data_dir, settings, backends)
        if settings.users != "memory":
            await _open_postgres(stack, settings, backends)
        if settings.tweets != "memory":
            from storage.dynamodb import open_dynamodb

            database = await stack.enter_async_context(
                open_dynamodb(
                    dynamodb_endpoint(settings.tweets), table_prefix=table_prefix(settings)
                )
            )
            backends.tweets = database.tweets
        if settings.cache != "memory":
            await _open_redis_stores(stack, settings, backends)
        if settings.log != "memory":
            await _open_redis_log(stack, settings, backends)
        backends.shared = "memory" not in (
            settings.users,
            settings.tweets,
            settings.cache,
            settings.log,
        )
        yield backends


async def _open_durable(
    stack: AsyncExitStack, directory: Path, settings: Settings, backends: Backends
) -> None:
    """The embedded stores recovered from ``directory``, every write a crash cut short
    completed or undone (`chirp.repair`), and journaled there from now on; the search index
    kept beside them, and tokens that outlive the process."""
    tweets, notifications, log = backends.tweets, backends.notifications, backends.log
    assert isinstance(tweets, MemoryTweetStore)
    assert isinstance(notifications, MemoryNotificationStore)
    assert isinstance(log, MemoryEventLog)
    stores = kept_stores(backends)
    durable = await stack.enter_async_context(
        DurableStores.open(
            directory,
            stores,  # type: ignore[arg-type]
            snapshot_every=settings.snapshot_every,
            unchanged=UNCHANGED,
            step_limit=STEP_LIMIT,
        )
    )
    # The repair tells an undo from a change in flight by the refusal note before it.
    durable.note_refusals(log)
    intensity = {"max_restarts": settings.max_restarts, "within": settings.restart_window}
    # First in the tree, so that it stops after everything that writes.
    durable_part = TreePart(durable.supervisor_spec(**intensity), durable.attach)
    backends.parts = {"durable": durable_part, **backends.parts}
    backends.durable = durable
    # Ids are made from the clock: one set back across the restart must not repeat one.
    # A deleted tweet's id is gone from the store, but its deletion was logged after it.
    newest_record_ms = int(log.newest_timestamp() * 1000)
    backends.id_floor = max(
        tweets.newest_id(), notifications.newest_id(), last_id_at(newest_record_ms)
    )
    # Repaired after the floor is taken, so the id of a tweet the repair takes back is
    # not made again (it was never announced, so a later life may: nobody knew it).
    await durable.repair(
        partial(
            repair_cut_short,
            tweets=backends.tweets,
            engagement=backends.engagement,
            graph=backends.graph,
            users=backends.users,
        )
    )
    backends.token_context, backends.jwt_secret = token_identity(directory)
    index = await stack.enter_async_context(SearchIndex.open(directory / "search"))
    index.settle = durable.settled
    backends.search_index = index


def kept_stores(backends: Backends) -> dict[str, Any]:
    """The embedded stores a data directory keeps, by the names its journal gives them:
    everything but the caches, rate limits and activity, which are rebuilt or refilled."""
    return {
        "users": backends.users,
        "graph": backends.graph,
        "tweets": backends.tweets,
        "engagement": backends.engagement,
        "notifications": backends.notifications,
        "trends": backends.trends,
        "log": backends.log,
    }


def token_identity(directory: Path) -> tuple[str, str]:
    """The token context and signing key kept in ``directory`` (made on first use, readable
    by this user alone): the accounts outlive the process there, and so do their tokens."""
    path = directory / "tokens.json"
    if not path.exists():
        identity = {
            "context": f"memory:{secrets.token_hex(8)}",
            "secret": secrets.token_urlsafe(32),
        }
        temporary = path.with_name(path.name + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(identity, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    identity = json.loads(path.read_text())
    return identity["context"], identity["secret"]


async def _open_postgres(stack: AsyncExitStack, settings: Settings, backends: Backends) -> None:
    import trio_asyncio

    from storage.postgres import open_postgres

    loop = await stack.enter_async_context(trio_asyncio.open_loop())
    database = await stack.enter_async_context(
        open_postgres(settings.users, loop=loop, schema=settings.namespace or "public")
    )
    backends.users, backends.graph = database.users, database.graph
    backends.engagement = database.engagement
    backends.token_context = f"postgresql:{redacted_netloc(settings.users)}:{database.schema}"


async def _open_redis_stores(stack: AsyncExitStack, settings: Settings, backends: Backends) -> None:
    from storage.redis import RedisStores, open_redis

    client = await stack.enter_async_context(open_redis(settings.cache))
    stores = RedisStores(client, prefix=key_prefix(settings), ttl=cache_ttl(settings))
    backends.cache, backends.trends = stores.feed_cache, stores.trends
    backends.notifications, backends.rate_limits = stores.notifications, stores.rate_limits
    backends.activity = stores.activity
    del backends.parts["cache"]


async def _open_redis_log(stack: AsyncExitStack, settings: Settings, backends: Backends) -> None:
    from storage.redis import open_redis
    from storage.redis.broadcast import RedisBroadcast
    from storage.redis.eventlog import RedisEventLog, StreamRetention
    from storage.redis.leases import LeaseTerms

    client = await stack.enter_async_context(open_redis(settings.log))
    log = RedisEventLog(
        client,
        settings.partitions,
        prefix=key_prefix(settings),
        retention=StreamRetention(max_age=settings.log_retention_hours * 3600),
        leases=LeaseTerms(ttl=settings.lease_seconds),
    )
    await log.prepare()
    # Search read through a group until each process followed every partition itself
    # (storage/follower.py): a deployment from before still has it, and its offsets
    # would hold trimming of the search topics back for ever.
    await log.drop_group("search")
    intensity = {"max_restarts": settings.max_restarts, "within": settings.restart_window}
    backends.log = log
    backends.broadcast = (RedisBroadcast(client, f"{key_prefix(settings)}stream"), log.process)
    if settings.worker_id is None:
        await _lease_worker_id(stack, settings, backends, client, log.process)
    backends.parts["log"] = TreePart(log.supervisor_spec(**intensity), lambda system: None)


async def _lease_worker_id(
    stack: AsyncExitStack, settings: Settings, backends: Backends, client: Any, token: str
) -> None:
    from storage.redis.leases import LeaseTerms
    from storage.redis.worker_ids import Renewer, WorkerIdLease

    terms = LeaseTerms(ttl=settings.lease_seconds)
    lease = WorkerIdLease(client, key_prefix(settings), token, terms)
    backends.worker_id, backends.worker_lease = await lease.claim(), lease
    stack.push_async_callback(lease.release)
    renewer = ActorSpec("worker_id.renewer", lambda: Renewer(lease, terms.renewal_interval))
    spec = SupervisorSpec("worker_id", [renewer])
    backends.parts["worker_id"] = TreePart(spec, lambda system: None)


def key_prefix(settings: Settings) -> str:
    return f"{settings.namespace}:" if settings.namespace else ""


def table_prefix(settings: Settings) -> str:
    return f"{settings.namespace}_" if settings.namespace else "chirp_"


def dynamodb_endpoint(url: str) -> str | None:
    """``dynamodb://host:port`` → ``http://host:port`` (a local server, dynalite or
    DynamoDB Local); ``dynamodb://`` → None: AWS's own endpoint for the region."""
    parts = urlsplit(url)
    return f"http://{parts.netloc}" if parts.netloc else None


def redacted_netloc(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return urlunsplit(("", f"{host}:{parts.port or ''}", parts.path, "", "")).lstrip("/")


async def drop_namespace(settings: Settings) -> None:
    """Delete everything the deployment ``settings.namespace`` holds on its servers: its
    Redis keys, its PostgreSQL schema, its DynamoDB tables (tests and benchmarks clean up
    after themselves with it). The embedded stores need nothing: they die with the process."""
    if not settings.namespace:
        raise ValueError("only a named namespace is dropped, never the default one")
    if settings.cache != "memory":
        from storage.redis import open_redis

        async with open_redis(settings.cache) as client:
            keys = [k async for k in client.scan_iter(match=f"{key_prefix(settings)}*")]
            for start in range(0, len(keys), 1000):
                # A DEL per key: keys of different slots never share a command (Cluster).
                async with client.pipeline(transaction=False) as pipeline:
                    for key in keys[start : start + 1000]:
                        pipeline.delete([key])
    if settings.users != "memory":
        import asyncpg
        import trio_asyncio

        from storage.postgres.migrations import quote_ident

        async def drop() -> None:
            connection = await asyncpg.connect(settings.users)
            try:
                await connection.execute(
                    f"DROP SCHEMA IF EXISTS {quote_ident(settings.namespace)} CASCADE"
                )
            finally:
                await connection.close()

        async with trio_asyncio.open_loop() as loop:
            await loop.run_aio_coroutine(drop())
    if settings.tweets != "memory":
        from storage.dynamodb import open_dynamodb

        async with open_dynamodb(
            dynamodb_endpoint(settings.tweets), table_prefix=table_prefix(settings)
        ) as database:
            for name in database.table_names:
                await database.client.delete_table(TableName=name)
