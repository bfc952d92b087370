"""The dashboard's figures: quantiles from histogram buckets, and points as rates over a
window of readings, with a clock the test turns."""

from __future__ import annotations

import math
from typing import Any

import pytest
from prometheus_client.samples import Sample

from chirp.services.dashboard import (
    HISTORY,
    RATE_WINDOW,
    DashboardService,
    histogram_quantile,
    request_class,
)

INF = math.inf


def test_a_quantile_interpolates_inside_its_bucket() -> None:
    # 10 observations at or below 0.1, 10 more between 0.1 and 0.2.
    buckets = {0.1: 10.0, 0.2: 20.0, INF: 20.0}
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.15)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)


def test_a_quantile_past_the_last_bound_is_that_bound_and_nothing_observed_is_none() -> None:
    assert histogram_quantile(0.99, {0.1: 1.0, 0.2: 1.0, INF: 100.0}) == 0.2
    assert histogram_quantile(0.5, {0.1: 0.0, INF: 0.0}) is None
    assert histogram_quantile(0.5, {}) is None


def test_api_gets_are_reads_and_other_methods_writes_pages_and_streams_neither() -> None:
    assert request_class("/api/v1/feed", "GET") == "read"
    assert request_class("/api/v1/tweet", "POST") == "write"
    assert request_class("/api/v1/tweet/<tweet_id>", "DELETE") == "write"
    assert request_class("/api/v1/tweet/<tweet_id>", "PATCH") == "write"
    assert request_class("/api/v1/stream", "GET") is None
    assert request_class("/metrics", "GET") is None
    assert request_class("/", "GET") is None


class Figures:
    """A stand-in for `MetricsService.samples`: cumulative figures the test moves."""

    def __init__(self) -> None:
        self.reads = {0.001: 0.0, 0.01: 0.0, INF: 0.0}
        self.statuses = {"200": 0.0, "404": 0.0, "500": 0.0}
        self.hits = self.misses = self.lag = self.events = 0.0
        self.storage = {0.0001: 0.0, 0.001: 0.0, INF: 0.0}

    def read(self, count: int, seconds: float, status: str = "200") -> None:
        for bound in self.reads:
            if seconds <= bound:
                self.reads[bound] += count
        self.statuses[status] += count

    async def samples(self) -> list[Sample]:
        route = {"route": "/api/v1/feed", "method": "GET"}
        found = [
            Sample(
                "chirp_http_request_duration_seconds_bucket",
                {**route, "status": "200", "le": str(le)},
                n,
            )
            for le, n in self.reads.items()
        ]
        found += [
            Sample(
                "chirp_http_request_duration_seconds_count",
                {**route, "status": status},
                n,
            )
            for status, n in self.statuses.items()
        ]
        found += [
            Sample("chirp_cache_requests_total", {"cache": "feed", "result": "hit"}, self.hits),
            Sample("chirp_cache_requests_total", {"cache": "feed", "result": "miss"}, self.misses),
            Sample("chirp_consumer_lag", {"group": "fanout", "topic": "a"}, self.lag),
            Sample("chirp_consumer_lag", {"group": "fanout", "topic": "b"}, 1.0),
            Sample("chirp_log_events_total", {"topic": "a"}, self.events),
            Sample("chirp_log_events_total", {"topic": "b"}, self.events),
        ]
        found += [
            Sample(
                "chirp_storage_call_duration_seconds_bucket",
                {"backend": "memory", "store": "S", "operation": "get", "le": str(le)},
                n,
            )
            for le, n in self.storage.items()
        ]
        return found


class Operations:
    def actor_tree(self) -> dict[str, Any]:
        return {"name": "root", "kind": "supervisor", "restarts": 0, "killable": False}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def dashboard(figures: Figures, clock: Clock) -> DashboardService:
    return DashboardService(figures, Operations(), clock=clock)  # type: ignore[arg-type]


async def test_points_are_rates_and_quantiles_over_the_window() -> None:
    figures, clock = Figures(), Clock()
    board = dashboard(figures, clock)
    first = await board.view()
    assert first["points"] == [], "one reading has nothing to compare with"
    assert first["actors"]["name"] == "root"

    clock.now += 2
    figures.read(90, 0.0005)
    figures.read(10, 0.005, status="404")
    figures.hits, figures.misses, figures.lag, figures.events = 30, 10, 7, 3
    figures.storage = {0.0001: 4.0, 0.001: 4.0, INF: 4.0}
    (point,) = (await board.view())["points"]
    assert point["ago"] == 0
    assert point["throughput"]["reads"] == pytest.approx(50.0)  # 100 reads in 2 s
    assert point["throughput"]["log_events"] == pytest.approx(3.0), "6 events over 2 topics"
    assert point["errors"] == {"4xx": pytest.approx(5.0), "5xx": 0.0}
    assert point["latency"]["read"]["p50"] < 0.001 < point["latency"]["read"]["p99"] <= 0.01
    assert point["cache_hit_rate"] == {"feed": pytest.approx(0.75)}
    assert point["log_lag"] == {"fanout": 8.0}, "summed over the group's topics, not a rate"
    assert point["storage"]["memory"]["p99"] <= 0.0001
    assert point["storage"]["memory"]["per_second"] == pytest.approx(2.0)


async def test_readings_within_a_second_are_reused_and_old_points_dropped() -> None:
    figures, clock = Figures(), Clock()
    board = dashboard(figures, clock)
    await board.view()
    clock.now += 0.5
    assert (await board.view())["points"] == []
    for _ in range(int(HISTORY / 2) + 20):
        clock.now += 2
        figures.read(2, 0.0005)
        points = (await board.view())["points"]
    assert all(p["ago"] <= HISTORY for p in points)
    assert points[0]["ago"] >= HISTORY - 2
    # Once the window is full, each point is a rate over RATE_WINDOW seconds.
    assert points[-1]["throughput"]["reads"] == pytest.approx(1.0)


async def test_a_point_spans_the_window_not_just_the_last_two_readings() -> None:
    figures, clock = Figures(), Clock()
    board = dashboard(figures, clock)
    await board.view()
    clock.now += 2
    figures.read(1, 0.1, status="500")  # one server error, then a quiet window
    await board.view()
    for _ in range(3):
        clock.now += 2
        point = (await board.view())["points"][-1]
    assert point["errors"]["5xx"] == pytest.approx(1 / 8), "still in the 10 s window"
    for _ in range(int(RATE_WINDOW / 2) + 1):
        clock.now += 2
        point = (await board.view())["points"][-1]
    assert point["errors"]["5xx"] == 0.0, "out of the window"


async def test_after_nobody_watched_for_long_the_first_reading_starts_afresh() -> None:
    figures, clock = Figures(), Clock()
    board = dashboard(figures, clock)
    await board.view()
    clock.now += 3600
    figures.read(3600, 0.0005)
    points = (await board.view())["points"]
    assert points == [], "an hour-long average would be no live figure"
    clock.now += 2
    figures.read(10, 0.0005)
    assert (await board.view())["points"][-1]["throughput"]["reads"] == pytest.approx(5.0)
