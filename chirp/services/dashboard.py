"""The live dashboard's figures (``GET /admin/dashboard``, behind the admin token).

The seed's eight panels, computed from the very samples ``GET /metrics`` renders, so the
page and a Prometheus scrape never disagree. Counters and histograms are cumulative; a
point on a chart is the difference between two readings ``RATE_WINDOW`` seconds apart,
as Prometheus's ``rate()`` and ``histogram_quantile()`` would give over that window.
Readings are taken when the page asks (at most one a second), so the dashboard costs
nothing while nobody watches it; the last ``HISTORY`` seconds of points are kept, so a
page opened or reloaded meanwhile draws them (after a longer gap, charts start afresh).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import trio
from prometheus_client.samples import Sample

from .metrics import MetricsService
from .operations import OperationsService

#: Seconds of history kept and served.
HISTORY = 300.0
#: Seconds each rate and quantile is taken over.
RATE_WINDOW = 10.0
#: A base reading older than this many windows is too old to average over.
STALE = 3
#: Readings closer together than this reuse the last one.
MIN_INTERVAL = 1.0
#: The quantiles drawn for latencies.
QUANTILES = (0.5, 0.99)
REQUESTS = "chirp_http_request_duration_seconds"
STORAGE = "chirp_storage_call_duration_seconds"
#: A server-sent event stream's "latency" is how long it took to open, not a read.
NOT_READS = frozenset({"/api/v1/stream"})

#: histogram buckets: upper bound -> cumulative count.
Buckets = dict[float, float]


def request_class(route: str, method: str) -> str | None:
    """``read`` or ``write`` for an API request; None for pages, metrics and admin calls."""
    if not route.startswith("/api/"):
        return None
    if method == "GET":
        return None if route in NOT_READS else "read"
    return None if method in ("HEAD", "OPTIONS") else "write"


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The ``q`` quantile of observations counted in cumulative ``buckets`` (upper bound ->
    count), interpolated linearly inside the bucket it falls in, as Prometheus does. None
    when nothing was observed; the largest finite bound when it falls in ``+Inf``."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


@dataclass(frozen=True)
class Reading:
    """The cumulative figures at one moment, folded to what the panels need."""

    at: float
    requests: Mapping[str, Buckets]  # read/write -> latency buckets
    statuses: Mapping[str, float]  # 2xx, 3xx, 4xx, 5xx -> requests answered
    accepted: Mapping[str, float]  # write kind -> acknowledged writes
    caches: Mapping[tuple[str, str], float]  # (cache, hit|miss) -> lookups
    storage: Mapping[str, Buckets]  # backend -> call latency buckets
    lags: Mapping[str, float]  # consumer group -> records behind, now
    events: float  # appended to the log, all topics

    @classmethod
    def of(cls, at: float, samples: Iterable[Sample]) -> Reading:
        requests: dict[str, Buckets] = defaultdict(lambda: defaultdict(float))
        statuses: dict[str, float] = defaultdict(float)
        accepted: dict[str, float] = {}
        caches: dict[tuple[str, str], float] = {}
        storage: dict[str, Buckets] = defaultdict(lambda: defaultdict(float))
        lags: dict[str, float] = defaultdict(float)
        events = 0.0
        for name, labels, value, *_ in samples:
            if name == f"{REQUESTS}_bucket":
                kind = request_class(labels["route"], labels["method"])
                if kind is not None:
                    requests[kind][float(labels["le"])] += value
            elif name == f"{REQUESTS}_count":
                statuses[f"{labels['status'][0]}xx"] += value
            elif name == "chirp_writes_accepted_total":
                accepted[labels["kind"]] = value
            elif name == "chirp_cache_requests_total":
                caches[labels["cache"], labels["result"]] = value
            elif name == f"{STORAGE}_bucket":
                storage[labels["backend"]][float(labels["le"])] += value
            elif name == "chirp_consumer_lag":
                lags[labels["group"]] += value
            elif name == "chirp_log_events_total":
                events += value
        return cls(at, requests, statuses, accepted, caches, storage, lags, events)


def point(old: Reading, new: Reading) -> dict[str, Any]:
    """One point of every chart: rates and quantiles between two readings."""
    seconds = max(new.at - old.at, 1e-9)

    def rate(new_value: float, old_value: float) -> float:
        # A counter never falls; one that did was reset (a restarted store), not negative.
        return max(new_value - old_value, 0.0) / seconds

    def latencies(new_side: Mapping[str, Buckets], old_side: Mapping[str, Buckets]) -> dict:
        out = {}
        for key, buckets in sorted(new_side.items()):
            before = old_side.get(key, {})
            delta = {le: count - before.get(le, 0.0) for le, count in buckets.items()}
            out[key] = {f"p{round(q * 100)}": histogram_quantile(q, delta) for q in QUANTILES}
            out[key]["per_second"] = rate(buckets.get(math.inf, 0.0), before.get(math.inf, 0.0))
        return out

    requests = latencies(new.requests, old.requests)
    hit_rates = {}
    for cache in sorted({cache for cache, _ in new.caches}):
        hits = new.caches.get((cache, "hit"), 0.0) - old.caches.get((cache, "hit"), 0.0)
        misses = new.caches.get((cache, "miss"), 0.0) - old.caches.get((cache, "miss"), 0.0)
        hit_rates[cache] = hits / (hits + misses) if hits + misses > 0 else None
    return {
        "at": new.at,
        "latency": requests,
        "throughput": {
            "reads": requests.get("read", {}).get("per_second", 0.0),
            "writes": requests.get("write", {}).get("per_second", 0.0),
            "log_events": rate(new.events, old.events),
            **{
                f"accepted_{kind}": rate(count, old.accepted.get(kind, 0.0))
                for kind, count in sorted(new.accepted.items())
            },
        },
        "errors": {
            status: rate(new.statuses.get(status, 0.0), old.statuses.get(status, 0.0))
            for status in ("4xx", "5xx")
        },
        "cache_hit_rate": hit_rates,
        "log_lag": dict(sorted(new.lags.items())),
        "storage": latencies(new.storage, old.storage),
    }


class DashboardService:
    """Readings on demand, and the points drawn from them."""

    def __init__(
        self,
        metrics: MetricsService,
        operations: OperationsService,
        *,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._metrics = metrics
        self._operations = operations
        self._clock = clock
        self._readings: deque[Reading] = deque()
        self._points: deque[dict[str, Any]] = deque()

    async def view(self) -> dict[str, Any]:
        """Every chart's points (oldest first, ``at`` in seconds before now, as ``ago``),
        and the actor tree with restarts and which actors the kill button may kill."""
        now = self._clock()
        if not self._readings or now - self._readings[-1].at >= MIN_INTERVAL:
            self._record(Reading.of(now, await self._metrics.samples()))
        return {
            "window_seconds": RATE_WINDOW,
            "history_seconds": HISTORY,
            "points": [{**p, "ago": round(now - p["at"], 3)} for p in self._points],
            "actors": self._operations.actor_tree(),
        }

    def _record(self, reading: Reading) -> None:
        readings = self._readings
        readings.append(reading)
        # The base is the newest reading at least a window old, else the oldest. After a
        # long gap (nobody watched) there is none worth averaging over: start afresh.
        while len(readings) > 2 and reading.at - readings[1].at >= RATE_WINDOW:
            readings.popleft()
        if reading.at - readings[0].at > STALE * RATE_WINDOW:
            readings.clear()
            readings.append(reading)
        if len(readings) > 1:
            self._points.append(point(readings[0], reading))
        while self._points and reading.at - self._points[0]["at"] > HISTORY:
            self._points.popleft()
