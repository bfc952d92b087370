"""Prometheus metrics for one chirp process (``GET /metrics``, admin token).

Two kinds. What happens on a request is counted as it happens, in this process's own
registry: request latency per route, method and status; writes accepted; rate-limit
refusals. What the rest of the process already keeps is read when scraped, so the hot
paths pay nothing for it: consumer-group lag and events appended per topic, each actor's
restarts, mailbox depth and whether it runs, the tweet and feed caches' hits and misses,
and feed entries written per fan-out tier. prometheus-client's process-wide registry
comes along too: the process's memory, CPU and collector figures, and storage call latency
per backend (`storage.timing`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from actors import ActorSystem
from storage.protocols import EventLog

from .fanout import FanoutService
from .feeds import FeedService
from .tweet_cache import TweetCache

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: From a cached read (a fraction of a millisecond) to a request that waited on a
#: restarting component (seconds).
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
#: Which accepted requests count as which write: (method, route) -> kind.
WRITES = {
    ("POST", "/api/v1/tweet"): "tweet",
    ("POST", "/api/v1/tweet/<tweet_id>/like"): "like",
    ("POST", "/api/v1/tweet/<tweet_id>/retweet"): "retweet",
    ("POST", "/api/v1/users/<int:user_id>/follow"): "follow",
    ("POST", "/api/v1/users"): "sign_up",
}


@dataclass(frozen=True)
class Sources:
    """What the scrape-time figures are read from."""

    system: ActorSystem
    log: EventLog
    groups: Mapping[str, tuple[str, ...]]  # consumer group -> its topics
    tweet_cache: TweetCache
    feeds: FeedService
    fanout: FanoutService
    #: Lags of groups that follow the log another way than a consumer group (search).
    other_lags: Callable[[], Awaitable[Mapping[tuple[str, str], int]]] | None = None


class MetricsService:
    """The registry ``GET /metrics`` renders; the API reports each request to it."""

    def __init__(self, sources: Sources) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Histogram(
            "chirp_http_request_duration_seconds",
            "HTTP requests by route pattern, method and status",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.accepted = Counter(
            "chirp_writes_accepted",
            "Writes acknowledged to their client, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "chirp_rate_limited",
            "Requests refused with 429, by route pattern",
            ["route"],
            registry=self.registry,
        )
        self._snapshot = _Snapshot(sources)
        self.registry.register(self._snapshot)
        self.registry.register(_ProcessWide())

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).observe(seconds)
        if 200 <= status < 300:
            kind = WRITES.get((method, route))
            if kind is not None:
                self.accepted.labels(kind).inc()
        elif status == 429:
            self.rate_limited.labels(route).inc()

    async def render(self) -> bytes:
        """The text exposition, with the lags read just now."""
        await self._snapshot.refresh()
        return generate_latest(self.registry)

    async def samples(self) -> Iterator[Sample]:
        """What `render` renders, as samples, with the lags read just now."""
        await self._snapshot.refresh()
        return (sample for family in self.registry.collect() for sample in family.samples)


class _Snapshot(Collector):
    def __init__(self, sources: Sources) -> None:
        self._sources = sources
        self._lags: dict[tuple[str, str], int] = {}
        self._published: dict[str, int] = {}

    async def refresh(self) -> None:
        sources, lags = self._sources, {}
        self._published = {
            topic: sum(await sources.log.end_offsets(topic)) for topic in sources.log.topics
        }
        for group, topics in sources.groups.items():
            for topic in topics:
                lags[group, topic] = sum(await sources.log.lag(group, topic))
        if sources.other_lags is not None:
            lags.update(await sources.other_lags())
        self._lags = lags

    def collect(self) -> Iterator[Metric]:
        sources = self._sources
        lag = GaugeMetricFamily(
            "chirp_consumer_lag",
            "Log records not yet applied, per group and topic",
            labels=["group", "topic"],
        )
        for (group, topic), behind in sorted(self._lags.items()):
            lag.add_metric([group, topic], behind)
        yield lag
        # A counter by nature (offsets only rise), read at scrape time: rate() of it is the
        # event throughput, whoever wrote (HTTP, the demo's trickle, another process).
        published = CounterMetricFamily(
            "chirp_log_events",
            "Events appended to the log, per topic (the sum of its partitions' end offsets)",
            labels=["topic"],
        )
        for topic, end in sorted(self._published.items()):
            published.add_metric([topic], end)
        yield published
        yield from _actors(sources.system.tree())
        caches = CounterMetricFamily(
            "chirp_cache_requests",
            "Cache lookups, by cache and result",
            labels=["cache", "result"],
        )
        caches.add_metric(["tweet", "hit"], sources.tweet_cache.hits)
        caches.add_metric(["tweet", "miss"], sources.tweet_cache.misses)
        caches.add_metric(["feed", "hit"], sources.feeds.pages_from_cache)
        caches.add_metric(["feed", "miss"], sources.feeds.pages_regenerated)
        yield caches
        fanout = CounterMetricFamily(
            "chirp_fanout_entries",
            "Feed entries written by the fan-out, by tier",
            labels=["tier"],
        )
        for tier, written in sorted(sources.fanout.writes.items(), key=lambda t: t[0].value):
            fanout.add_metric([tier.value], written)
        yield fanout


def _actors(tree: dict[str, Any]) -> Iterator[Metric]:
    restarts = CounterMetricFamily(
        "chirp_actor_restarts", "Restarts by the actor's supervisor", labels=["actor", "kind"]
    )
    running = GaugeMetricFamily(
        "chirp_actor_running", "1 while the actor runs", labels=["actor", "kind"]
    )
    depth = GaugeMetricFamily(
        "chirp_actor_mailbox_depth", "Messages waiting in the actor's mailbox", labels=["actor"]
    )

    def visit(node: dict[str, Any]) -> None:
        labels = [node["name"], node["kind"]]
        restarts.add_metric(labels, node["restarts"])
        running.add_metric(labels, 1 if node["state"] == "running" else 0)
        if "mailbox_depth" in node:
            depth.add_metric([node["name"]], node["mailbox_depth"])
        for child in node.get("children", ()):
            visit(child)

    visit(tree)
    yield from (restarts, running, depth)


class _ProcessWide(Collector):
    """prometheus-client's default registry: process and GC figures, storage timings."""

    def collect(self) -> Iterator[Metric]:
        return REGISTRY.collect()
