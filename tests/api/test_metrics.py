"""GET /metrics: Prometheus text that a Prometheus parser reads, behind the admin token,
whose figures move as the API is used."""

from __future__ import annotations

import json
import re
from pathlib import Path

import trio
from prometheus_client.parser import text_string_to_metric_families

from chirp.server import Chirp

from .conftest import ADMIN_TOKEN, admin, running, sign_up
from .waiting import settled

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(chirp: Chirp) -> Samples:
    response = await chirp.app.test_client().get("/metrics", headers=admin())
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = (await response.get_data()).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_need_the_admin_token(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers=admin("not-the-token"))
    assert wrong.status_code == 403
    assert wrong.content_type == "application/problem+json"
    assert ADMIN_TOKEN.encode() not in await wrong.get_data()


async def test_counters_move_as_the_api_is_used(chirp: Chirp, configuration: str) -> None:
    client = chirp.app.test_client()
    before = await scrape(chirp)
    ada, ada_auth = await sign_up(chirp, "ada")
    bob, bob_auth = await sign_up(chirp, "bob")
    assert (await client.post(f"/api/v1/users/{ada}/follow", headers=bob_auth)).status_code < 300
    posted = await client.post(
        "/api/v1/tweet", json={"content": "hello #metrics"}, headers=ada_auth
    )
    tweet_id = (await posted.get_json())["tweet_id"]
    assert (await client.post(f"/api/v1/tweet/{tweet_id}/like", headers=bob_auth)).status_code < 300
    refused = await client.post("/api/v1/tweet", json={"content": 5}, headers=ada_auth)
    assert refused.status_code == 422
    await settled(chirp)
    for _ in range(2):  # the first may rebuild the feed, the second reads the cached one
        assert (await client.get("/api/v1/feed", headers=bob_auth)).status_code == 200
    after = await scrape(chirp)

    def grew(name: str, by: float = 1, **labels: str) -> None:
        assert value(after, name, **labels) - value(before, name, **labels) == by, (name, labels)

    grew("chirp_writes_accepted_total", 2, kind="sign_up")
    grew("chirp_writes_accepted_total", kind="tweet")
    grew("chirp_writes_accepted_total", kind="like")
    grew("chirp_writes_accepted_total", kind="follow")
    # The log counts events whoever wrote them: one per write that changed something.
    grew("chirp_log_events_total", topic="tweet_created")
    grew("chirp_log_events_total", topic="like_added")
    grew("chirp_log_events_total", topic="user_followed")
    tweet_route = {"route": "/api/v1/tweet", "method": "POST"}
    grew("chirp_http_request_duration_seconds_count", **tweet_route, status="201")
    grew("chirp_http_request_duration_seconds_count", **tweet_route, status="422")
    feed_route = {"route": "/api/v1/feed", "method": "GET", "status": "200"}
    grew("chirp_http_request_duration_seconds_count", 2, **feed_route)
    assert value(after, "chirp_cache_requests_total", cache="feed", result="hit") >= 1
    assert value(after, "chirp_cache_requests_total", cache="tweet", result="hit") >= 1
    # Bob follows Ada: the tweet reached his feed and hers.
    fanned = sum(
        value(after, "chirp_fanout_entries_total", tier=tier)
        for tier in ("push_all", "push_active", "pull")
    )
    assert fanned >= 2
    # Settled: every group's every topic is listed, and none is behind.
    lags = {k: v for k, v in after.items() if k[0] == "chirp_consumer_lag"}
    groups = {dict(labels)["group"] for _, labels in lags}
    assert groups == {"fanout", "trending", "notify", "search"}
    assert set(lags.values()) == {0.0}
    assert value(after, "chirp_actor_running", actor="root", kind="supervisor") == 1

    # Store calls are timed per backend. The registry is the process's, so compare counts.
    def store_calls(samples: Samples, backend: str, store: str) -> float:
        return sum(
            count
            for (name, labels), count in samples.items()
            if name == "chirp_storage_call_duration_seconds_count"
            and dict(labels)["backend"] == backend
            and dict(labels)["store"] == store
        )

    expected = (
        [("redis", "RedisFeedCache"), ("postgres", "PostgresUserStore")]
        + [("dynamodb", "DynamoTweetStore")]
        if configuration == "production"
        else [("memory", "MemoryFeedCache"), ("memory", "MemoryUserStore")]
        + [("memory", "MemoryTweetStore")]
    )
    for backend, store in expected:
        assert store_calls(after, backend, store) > store_calls(before, backend, store), store


async def test_restarts_and_refusals_are_counted(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    consumer = "fanout.tweet_created.1"
    before = await scrape(chirp)
    killed = await client.post(f"/admin/actors/{consumer}/kill", headers=admin())
    assert killed.status_code == 202
    await settled(chirp)
    after = await scrape(chirp)
    restarts = "chirp_actor_restarts_total"
    assert value(after, restarts, actor=consumer, kind="actor") == (
        value(before, restarts, actor=consumer, kind="actor") + 1
    )
    assert value(after, "chirp_actor_mailbox_depth", actor=consumer) == 0


async def test_rate_limit_refusals_are_counted_by_route(nursery: trio.Nursery) -> None:
    chirp = await running(nursery, rate_requests_per_ip=2)
    client = chirp.app.test_client()
    statuses = [(await client.get("/api/v1/trending")).status_code for _ in range(4)]
    assert 429 in statuses
    after = await scrape(chirp)
    refused = statuses.count(429)
    assert value(after, "chirp_rate_limited_total", route="/api/v1/trending") == refused


async def test_the_grafana_dashboard_asks_only_for_what_chirp_exports(chirp: Chirp) -> None:
    dashboard = json.loads((Path(__file__).parents[2] / "deploy/grafana/chirp.json").read_text())
    assert len(dashboard["panels"]) == 8  # the seed's eight
    asked = {
        re.sub(r"_(bucket|count|sum|total)$", "", name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bchirp_[a-z_]+", target["expr"])
    }
    exported = {family.name for family in chirp.services.metrics.registry.collect()}
    assert asked and asked <= exported, asked - exported
