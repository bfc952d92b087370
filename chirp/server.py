"""The composition root: open the backends, build the supervision tree, serve."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import trio
from pydantic import SecretStr
from quart_trio import QuartTrio

from actors import ActorSpec, ActorSystem, SupervisorSpec
from chirp.api import create_app
from chirp.backends import Backends, embedded, open_backends
from chirp.config import Settings
from chirp.fanout_policy import FanoutPolicy
from chirp.http_server import HttpServer, open_listener, url_of
from chirp.ids import SnowflakeGenerator
from chirp.services import Services
from chirp.services.auth import PasswordPolicy, Passwords, TokenIssuer, TokenPolicy
from chirp.services.dashboard import DashboardService
from chirp.services.fanout import FANOUT_TOPICS, FanoutService
from chirp.services.feeds import FeedService
from chirp.services.metrics import MetricsService, Sources
from chirp.services.notifications import NOTIFY_TOPICS, NotificationService
from chirp.services.operations import OperationsService
from chirp.services.ratelimits import RateLimits, RateLimitService
from chirp.services.search import SEARCH_TOPICS, SearchService
from chirp.services.stream import Hub
from chirp.services.stream_relay import RelayedHub
from chirp.services.trending import TRENDING_TOPICS, TrendingService
from chirp.services.tweets import SpamPolicy, TweetService
from chirp.services.users import UserService, utc_now
from chirp.trending import TrendRules
from chirp.workers.search import SearchWorkers
from chirp.workers.stream_relay import RELAY, StreamRelay
from chirp.workers.trending import TrendingWorkers
from storage.consumer import consumer_tree
from storage.follower import Positions
from storage.protocols import EventLog
from storage.search_index import SearchIndex

logger = logging.getLogger("chirp")


@dataclass(frozen=True)
class Chirp:
    """Every part of a chirp process, wired together and not yet running."""

    settings: Settings
    system: ActorSystem
    log: EventLog
    stores: Backends  # for what loads data in bulk (benchmarks, demo seeding, tests)
    services: Services
    fanout: FanoutService
    app: QuartTrio
    admin_token: str = field(repr=False)
    admin_token_generated: bool = False
    deferred: tuple[SupervisorSpec, ...] = ()  # consumer groups not started yet

    async def start_consumers(self) -> None:
        """Start the consumer groups held back by ``assemble(consumers=False)``: they
        begin at the log's committed offsets, so everything published meanwhile waits."""
        for spec in self.deferred:
            await self.system.spawn(spec, parent="root")


def stream_relay(hub: RelayedHub) -> tuple[ActorSpec]:
    return (ActorSpec(RELAY, lambda: StreamRelay(hub)),)


def given_or_new(secret: SecretStr | None) -> str:
    """The configured secret, or a fresh random one for this process alone."""
    return secrets.token_urlsafe(32) if secret is None else secret.get_secret_value()


def fanout_policy(settings: Settings) -> FanoutPolicy:
    """The fan-out policy the settings name: the seed's hybrid tiers, or pure push/pull."""
    active_window = timedelta(days=settings.fanout_active_days)
    if settings.fanout_mode == "push":
        return FanoutPolicy.pure_push(active_window)
    if settings.fanout_mode == "pull":
        return FanoutPolicy.pure_pull(active_window)
    return FanoutPolicy(
        push_all_below=settings.fanout_push_all_below,
        pull_above=settings.fanout_pull_above,
        active_window=active_window,
    )


def assemble(
    settings: Settings,
    *,
    now: Callable[[], datetime] = utc_now,
    consumers: bool = True,
    backends: Backends | None = None,
) -> Chirp:
    """Build the supervision tree (without HTTP) and the app over ``backends`` (opened by
    `chirp.backends.open_backends`; all embedded when None). ``now`` is the services'
    clock (tests pass one they can move). Without ``consumers`` the consumer groups wait
    for `Chirp.start_consumers` (loading a backlog first). With ``settings.data_dir``,
    ``backends`` must be given (`ValueError` otherwise): opening them recovers the stores."""
    if backends is None and settings.data_dir is not None:
        raise ValueError("a data_dir is recovered by open_backends(); pass its backends")
    stores = embedded(settings) if backends is None else backends
    log = stores.log
    generated = settings.admin_token is None
    admin_token = given_or_new(settings.admin_token)
    intensity = {"max_restarts": settings.max_restarts, "within": settings.restart_window}
    # Given to the supervisors whose children are supervisors: only those can give up.
    backoff = {"backoff": settings.restart_backoff, "max_backoff": settings.restart_backoff_max}
    if settings.jwt_secret is None and stores.jwt_secret is not None:
        jwt_secret = stores.jwt_secret  # kept with the accounts, in their data directory
    else:
        jwt_secret = given_or_new(settings.jwt_secret)
    user_store, tweet_store, graph_store = stores.users, stores.tweets, stores.graph
    users = UserService(
        activity=stores.activity,
        users=user_store,
        graph=graph_store,
        tweets=tweet_store,
        log=log,
        now=now,
        regions=settings.trend_regions,
        passwords=Passwords(
            PasswordPolicy(
                memory_kib=settings.password_memory_kib, time_cost=settings.password_time_cost
            )
        ),
        tokens=TokenIssuer(
            TokenPolicy(
                secret=jwt_secret,
                context=stores.token_context,
                access_ttl=settings.access_token_ttl,
                refresh_ttl=settings.refresh_token_ttl,
            )
        ),
    )
    # One generator for every id this process makes: two would repeat each other.
    worker_id = stores.worker_id if stores.worker_id is not None else settings.worker_id or 0
    ids = SnowflakeGenerator(worker_id, clock_ms=lambda: int(now().timestamp() * 1000))
    ids.start_above(stores.id_floor)
    if stores.worker_lease is not None:
        stores.worker_lease.moved = ids.become
    hub = Hub() if stores.broadcast is None else RelayedHub(*stores.broadcast)
    tweets = TweetService(
        tweets=tweet_store,
        users=user_store,
        engagement=stores.engagement,
        log=log,
        ids=ids,
        spam=SpamPolicy(max_links=settings.spam_max_links),
        cache=stores.cache,
        cache_reply_counts=settings.tweets != "memory",
        now=now,
    )
    policy = fanout_policy(settings)
    fanout = FanoutService(
        graph=graph_store,
        tweets=tweet_store,
        users=users,
        cache=stores.cache,
        policy=policy,
        hub=hub,
    )
    feeds = FeedService(
        cache=stores.cache,
        graph=graph_store,
        tweets=tweet_store,
        tweet_service=tweets,
        users=users,
        policy=policy,
    )
    trending = TrendingService(
        store=stores.trends,
        users=user_store,
        rules=TrendRules(
            window=settings.trend_window_seconds,
            min_authors=settings.trend_min_authors,
            mention_weight=settings.trend_mention_weight,
            velocity_weight=settings.trend_velocity_weight,
            age_weight=settings.trend_age_weight,
        ),
        regions=settings.trend_regions,
        categories=settings.trend_categories,
        now=now,
        cache_seconds=settings.trend_cache_seconds,
    )
    trending_workers = TrendingWorkers(log, trending, rescore_every=settings.trend_rescore_seconds)
    index = SearchIndex() if stores.search_index is None else stores.search_index
    applied = Positions(log, SEARCH_TOPICS)
    if index.saved is not None and not applied.resume(index.saved):
        logger.warning("the search index was written with other partitions: fed again from 0")
    index.bookmark = applied.saved
    search = SearchService(
        index=index,
        applied=applied,
        users=user_store,
        tweet_service=tweets,
        user_service=users,
    )
    search_workers = SearchWorkers(log, search)
    notifications = NotificationService(
        store=stores.notifications,
        users=user_store,
        tweets=tweet_store,
        graph=graph_store,
        ids=ids,
        hub=hub,
    )
    groups = (
        consumer_tree(
            log,
            group="fanout",
            topics=FANOUT_TOPICS,
            shards=settings.fanout_shards,
            handler=fanout.apply,
            **intensity,
            **backoff,
        ),
        trending_workers.supervisor_spec(shards=settings.fanout_shards, **intensity, **backoff),
        search_workers.supervisor_spec(**intensity),
        # The notify group needs no helpers: inboxes live in the store and every
        # notification is keyed by its event, so a redelivered batch notifies nobody twice.
        consumer_tree(
            log,
            group="notify",
            topics=NOTIFY_TOPICS,
            shards=settings.fanout_shards,
            handler=notifications.deliver,
            **intensity,
            **backoff,
        ),
    )
    system = ActorSystem(
        SupervisorSpec(
            "root",
            [
                *(part.spec for part in stores.parts.values()),
                *(stream_relay(hub) if isinstance(hub, RelayedHub) else ()),
                *(groups if consumers else ()),
            ],
            **intensity,
            **backoff,
        )
    )
    for part in stores.parts.values():
        part.attach(system)
    trending_workers.attach(system)
    search_workers.attach(system)
    operations = OperationsService(
        system,
        admin_token,
        unkillable={
            "root": "it is the whole process; stop chirp with SIGTERM instead",
            "http": "it would cut off the very request asking; kill it from inside",
        },
    )
    limits = RateLimitService(
        stores.rate_limits,
        RateLimits(
            tweets_per_user=settings.rate_tweets_per_user,
            calls_per_user=settings.rate_calls_per_user,
            requests_per_ip=settings.rate_requests_per_ip,
            logins_per_account=settings.rate_logins_per_account,
        ),
    )

    async def search_lags() -> dict[tuple[str, str], int]:
        return {("search", t): n for t, n in (await search.applied.lags(log)).items()}

    metrics = MetricsService(
        Sources(
            system=system,
            log=log,
            groups={
                "fanout": FANOUT_TOPICS,
                "trending": TRENDING_TOPICS,
                "notify": NOTIFY_TOPICS,
            },
            tweet_cache=tweets.cached,
            feeds=feeds,
            fanout=fanout,
            other_lags=search_lags,
        )
    )
    services = Services(
        operations=operations,
        users=users,
        tweets=tweets,
        limits=limits,
        feeds=feeds,
        trending=trending,
        search=search,
        notifications=notifications,
        metrics=metrics,
        dashboard=DashboardService(metrics, operations),
    )
    app = create_app(
        services,
        max_body_bytes=settings.max_body_bytes,
        trusted_proxies=settings.trusted_proxies,
    )
    return Chirp(
        settings,
        system,
        log,
        stores,
        services,
        fanout,
        app,
        admin_token,
        generated,
        deferred=() if consumers else groups,
    )


@dataclass(frozen=True)
class Running:
    """What `serve` reports once it accepts requests."""

    url: str
    chirp: Chirp


async def serve(
    settings: Settings,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]],
    prepare: Callable[[Chirp], Awaitable[object]] | None = None,
    task_status: trio.TaskStatus[Running] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run chirp until ``shutdown_trigger`` returns, then stop in order: HTTP first (it
    drains in-flight requests for ``settings.shutdown_grace`` seconds), then the rest of the
    tree in reverse start order.

    ``prepare`` runs once the tree is up and before HTTP starts (demo mode seeds there
    and adds its actors); cancelling `serve` meanwhile stops the tree in order.

    Reports `Running` through ``task_status`` once the tree is up and HTTP accepts. Raises
    `storage.protocols.BackendUnavailable` before serving when a configured server does
    not answer, and `actors.SupervisorGaveUp` if the root supervisor gives up.
    """
    async with open_backends(settings) as backends:
        chirp = assemble(settings, backends=backends)
        await _serve(
            chirp, shutdown_trigger=shutdown_trigger, prepare=prepare, task_status=task_status
        )


async def _serve(
    chirp: Chirp,
    *,
    shutdown_trigger: Callable[[], Awaitable[object]],
    prepare: Callable[[Chirp], Awaitable[object]] | None,
    task_status: trio.TaskStatus[Running],
) -> None:
    settings = chirp.settings
    with open_listener(settings.host, settings.port) as listener:
        async with trio.open_nursery() as nursery:
            await nursery.start(chirp.system.run)
            if prepare is not None:
                await prepare(chirp)
            # HTTP starts last, once everything it serves is up, so it is the first to stop.
            await chirp.system.spawn(
                ActorSpec(
                    "http",
                    lambda: HttpServer(chirp.app, listener, grace=settings.shutdown_grace),
                    shutdown=settings.shutdown_grace + 1.0,
                ),
                parent="root",
            )
            task_status.started(Running(url_of(listener), chirp))
            await shutdown_trigger()
            # Once hypercorn also closes its duplicate (it stops accepting first thing when
            # stopped), new connections are refused at once instead of waiting in the backlog
            # of a socket nobody accepts from any more.
            listener.close()
            await chirp.system.shutdown()
