"""The gateway's token buckets: per IP, per user, per user for tweets."""

from __future__ import annotations

import pytest
import trio
from werkzeug.datastructures import Headers

from chirp.server import Chirp

from .conftest import running, sign_up

PROXY = ("10.0.0.7", 40000)


async def limited(nursery: trio.Nursery, **limits: object) -> Chirp:
    return await running(nursery, **limits)


async def test_the_tweet_limit_is_429_with_headers_and_stores_nothing(
    nursery: trio.Nursery,
) -> None:
    chirp = await limited(nursery, rate_tweets_per_user=3)
    user_id, alice = await sign_up(chirp, "alice")
    client = chirp.app.test_client()
    for n in range(3):
        response = await client.post("/api/v1/tweet", headers=alice, json={"content": f"t{n}"})
        assert response.status_code == 201
    refused = await client.post("/api/v1/tweet", headers=alice, json={"content": "one more"})
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert int(refused.headers["X-RateLimit-Reset"]) > 0
    timeline = await (await client.get(f"/api/v1/users/{user_id}/tweets")).get_json()
    assert len(timeline["tweets"]) == 3
    # Another user's bucket is their own.
    _, bob = await sign_up(chirp, "bob")
    ok = await client.post("/api/v1/tweet", headers=bob, json={"content": "mine"})
    assert ok.status_code == 201


async def test_calls_per_user_count_every_signed_in_request(nursery: trio.Nursery) -> None:
    chirp = await limited(nursery, rate_calls_per_user=4)
    _, alice = await sign_up(chirp, "alice")
    client = chirp.app.test_client()
    answers = [(await client.get("/api/v1/users/me", headers=alice)) for _ in range(5)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "4"
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:4]] == ["3", "2", "1", "0"]
    # Anonymous reads count against the address only.
    assert (await client.get("/api/v1/users/1")).status_code == 200


async def test_a_forged_forwarded_for_does_not_buy_more_requests(nursery: trio.Nursery) -> None:
    chirp = await limited(nursery, rate_requests_per_ip=3)
    client = chirp.app.test_client()
    statuses = []
    for n in range(4):
        response = await client.get("/api/v1/users/1", headers={"X-Forwarded-For": f"1.2.3.{n}"})
        statuses.append(response.status_code)
    assert statuses == [404, 404, 404, 429]
    assert (await client.get("/healthz")).status_code == 200, "health checks are not limited"


async def test_a_trusted_proxy_has_its_clients_counted_apart(nursery: trio.Nursery) -> None:
    chirp = await limited(nursery, rate_requests_per_ip=2, trusted_proxies=["10.0.0.0/8"])
    client = chirp.app.test_client()

    async def via_proxy(forwarded: str) -> int:
        response = await client.get(
            "/api/v1/users/1", scope_base={"client": PROXY}, headers={"X-Forwarded-For": forwarded}
        )
        return response.status_code

    assert [await via_proxy("198.51.100.1") for _ in range(3)] == [404, 404, 429]
    # A client of the proxy cannot pose as another by adding its own hop in front.
    assert await via_proxy("198.51.100.2") == 404
    assert await via_proxy("203.0.113.9, 198.51.100.1") == 429


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
async def test_operations_probes_are_never_limited(nursery: trio.Nursery, path: str) -> None:
    chirp = await limited(nursery, rate_requests_per_ip=1)
    client = chirp.app.test_client()
    assert [(await client.get(path)).status_code for _ in range(3)] == [200] * 3


async def test_a_forged_first_forwarded_for_line_is_not_believed(nursery: trio.Nursery) -> None:
    chirp = await limited(nursery, rate_requests_per_ip=2, trusted_proxies=["10.0.0.0/8"])
    client = chirp.app.test_client()
    statuses = []
    for n in range(3):
        # The client forged the first line; the trusted proxy added the second.
        headers = [("X-Forwarded-For", f"192.0.2.{n}"), ("X-Forwarded-For", "198.51.100.1")]
        response = await client.get(
            "/api/v1/users/1", scope_base={"client": PROXY}, headers=Headers(headers)
        )
        statuses.append(response.status_code)
    assert statuses == [404, 404, 429]
