"""/healthz, /readyz and /admin/actors through the real app."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from actors import Actor, ActorSpec
from chirp.server import Chirp
from storage.partitioning import partition_for

from .conftest import ADMIN_TOKEN, SMALL_TOPICS, admin, sign_up
from .waiting import settled

PARTITION = "log.tweet_created.1"  # the embedded log's; a Redis log has no such actors
CONSUMER = "fanout.tweet_created.1"  # in every configuration


def find(tree: dict[str, Any], name: str) -> dict[str, Any]:
    if tree["name"] == name:
        return tree
    for child in tree.get("children", []):
        try:
            return find(child, name)
        except KeyError:
            pass
    raise KeyError(name)


async def test_healthz_answers_while_the_process_lives(chirp: Chirp) -> None:
    response = await chirp.app.test_client().get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}
    assert ADMIN_TOKEN not in repr(chirp), "the token never shows in a repr (or a log line)"


async def test_readyz_is_503_until_every_actor_runs(chirp: Chirp, nursery: trio.Nursery) -> None:
    client = chirp.app.test_client()
    assert (await client.get("/readyz")).status_code == 200
    gate = trio.Event()

    class SlowStarter(Actor):
        async def on_start(self) -> None:
            await gate.wait()

    nursery.start_soon(partial(chirp.system.spawn, ActorSpec("slow", SlowStarter), parent="root"))
    await trio.testing.wait_all_tasks_blocked()
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"] == "1"
    assert (await response.get_json())["unavailable"] == ["slow"]
    gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (admin("wrong-token-wrong-token"), 403), ({"Authorization": "Basic abc"}, 401)],
)
async def test_admin_endpoints_need_the_admin_token(
    chirp: Chirp, headers: dict[str, str], status: int
) -> None:
    client = chirp.app.test_client()
    for response in (
        await client.get("/admin/actors", headers=headers),
        await client.post(f"/admin/actors/{CONSUMER}/kill", headers=headers),
        await client.get("/admin/dashboard", headers=headers),
    ):
        assert response.status_code == status
        assert response.content_type == "application/problem+json"
        body = await response.get_json()
        assert body["status"] == status and "admin token" in body["detail"]
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert chirp.system.restarts(CONSUMER) == 0, "a refused kill kills nothing"


async def test_admin_actors_describes_the_tree(chirp: Chirp) -> None:
    response = await chirp.app.test_client().get("/admin/actors", headers=admin())
    assert response.status_code == 200
    tree = await response.get_json()
    assert (tree["name"], tree["kind"], tree["state"]) == ("root", "supervisor", "running")
    consumer = find(tree, CONSUMER)
    assert consumer["state"] == "running" and consumer["restarts"] == 0
    assert {"group", "topic", "owned", "lag", "mailbox_depth"} <= consumer.keys()
    assert (consumer["group"], consumer["topic"]) == ("fanout", "tweet_created")


# Embedded only: the test turns a frozen clock by hand, and waiting on real servers polls
# with sleeps a frozen clock never ends. The figures are the same `/metrics` samples,
# which test_metrics checks on both.
@pytest.mark.embedded_only
async def test_the_dashboard_draws_requests_and_the_kill_button_restarts(
    chirp: Chirp, mock_clock: trio.testing.MockClock
) -> None:
    client = chirp.app.test_client()
    _, headers = await sign_up(chirp, "watched")
    assert (await (await client.get("/admin/dashboard", headers=admin())).get_json())[
        "points"
    ] == []
    for n in range(4):
        posted = await client.post("/api/v1/tweet", json={"content": f"{n}"}, headers=headers)
        assert posted.status_code == 201
        assert (await client.get("/api/v1/feed", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/tweet/0", headers=headers)).status_code == 404
    mock_clock.jump(2)
    response = await client.get("/admin/dashboard", headers=admin())
    assert response.status_code == 200
    board = await response.get_json()
    (point,) = board["points"]
    assert point["throughput"]["writes"] == 2.0  # four tweets in two seconds
    assert point["throughput"]["accepted_tweet"] == 2.0
    assert point["errors"]["4xx"] == 0.5
    assert 0 < point["latency"]["write"]["p50"] <= point["latency"]["write"]["p99"]
    assert set(point["log_lag"]) == {"fanout", "trending", "notify", "search"}
    assert point["storage"], "store calls are timed"
    assert board["actors"]["killable"] is False, "root is the process"
    assert find(board["actors"], CONSUMER)["killable"] is True

    killed = await client.post(f"/admin/actors/{CONSUMER}/kill", headers=admin())
    assert killed.status_code == 202
    await settled(chirp, "fanout")
    mock_clock.jump(2)
    board = await (await client.get("/admin/dashboard", headers=admin())).get_json()
    assert find(board["actors"], CONSUMER)["restarts"] == 1
    assert len(board["points"]) == 2


@pytest.mark.embedded_only
async def test_admin_actors_describes_the_embedded_logs_partitions(chirp: Chirp) -> None:
    await chirp.log.publish("tweet_created", "k", {"hello": 1})
    tree = await (await chirp.app.test_client().get("/admin/actors", headers=admin())).get_json()
    log = find(tree, "log")
    assert len(log["children"]) == sum(SMALL_TOPICS.values()) + 1  # and the retention ticker
    partition = find(tree, PARTITION)
    assert {"state", "mailbox_depth", "restarts", "last_error", "end_offset"} <= partition.keys()
    assert sum(find(tree, f"log.tweet_created.{p}")["end_offset"] for p in range(4)) == 1


async def test_killing_a_consumer_through_the_api_restarts_it(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    response = await client.post(f"/admin/actors/{CONSUMER}/kill", headers=admin())
    assert response.status_code == 202
    assert (await response.get_json())["name"] == CONSUMER
    await settled(chirp, "fanout")
    consumer = find(await (await client.get("/admin/actors", headers=admin())).get_json(), CONSUMER)
    assert (consumer["state"], consumer["restarts"], consumer["last_error"]) == (
        "running",
        1,
        "killed",
    )
    # It consumes again: a tweet on its partition reaches the author's feed.
    for n in range(40):
        user_id, headers = await sign_up(chirp, f"phoenix{n}")
        if partition_for(user_id, SMALL_TOPICS["tweet_created"]) == 1:
            break
    posted = await client.post("/api/v1/tweet", json={"content": "back"}, headers=headers)
    assert posted.status_code == 201
    await settled(chirp, "fanout")
    feed = await (await client.get("/api/v1/feed", headers=headers)).get_json()
    assert [t["content"] for t in feed["tweets"]] == ["back"]


@pytest.mark.embedded_only
async def test_killing_a_partition_through_the_api_restarts_it(chirp: Chirp) -> None:
    client = chirp.app.test_client()
    response = await client.post(f"/admin/actors/{PARTITION}/kill", headers=admin())
    assert response.status_code == 202
    assert (await response.get_json())["name"] == PARTITION
    await trio.testing.wait_all_tasks_blocked()
    tree = await (await client.get("/admin/actors", headers=admin())).get_json()
    partition = find(tree, PARTITION)
    assert (partition["state"], partition["restarts"], partition["last_error"]) == (
        "running",
        1,
        "killed",
    )
    # It serves again: appends to its partition are acknowledged.
    key = next(k for k in range(100) if partition_for(k, 4) == 1)
    assert await chirp.log.publish("tweet_created", key, "after") == (1, 0)


async def test_killing_an_unknown_actor_is_404(chirp: Chirp) -> None:
    response = await chirp.app.test_client().post("/admin/actors/ghost/kill", headers=admin())
    assert response.status_code == 404
    assert "ghost" in (await response.get_json())["detail"]


@pytest.mark.parametrize("name", ["root", "http"])
async def test_the_api_refuses_to_kill_what_would_cut_off_its_own_request(
    chirp: Chirp, name: str
) -> None:
    response = await chirp.app.test_client().post(f"/admin/actors/{name}/kill", headers=admin())
    assert response.status_code == 409
    assert "cannot be killed through the API" in (await response.get_json())["detail"]
    assert chirp.system.state("root") == "running"
