"""Crash loops through the real app: a subtree that crashes more often than its restart
intensity allows gives up, escalates, and backs off; /readyz and /admin/actors say so,
requests it would serve are refused with 503 and Retry-After at once, and everything
else keeps serving.

Embedded only: the kills name the embedded log's partition actors, and the backoff is
waited out on an autojumping clock, which would race real servers' sockets."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from chirp.server import Chirp

from .conftest import admin, running, sign_up
from .test_operations import find

pytestmark = pytest.mark.embedded_only

PARTITION = "log.tweet_created.1"
INTENSITY = {
    "max_restarts": 3,
    "restart_window": 10.0,
    "restart_backoff": 2.0,
    "restart_backoff_max": 16.0,
}


async def crash_loop(chirp: Chirp, name: str) -> None:
    """Kill ``name`` one time more than its supervisor's intensity allows."""
    for _ in range(INTENSITY["max_restarts"] + 1):
        await trio.testing.wait_all_tasks_blocked()
        chirp.system.kill(name)
    await trio.testing.wait_all_tasks_blocked()


async def ready(chirp: Chirp) -> tuple[int, dict[str, Any], str | None]:
    response = await chirp.app.test_client().get("/readyz")
    return response.status_code, await response.get_json(), response.headers.get("Retry-After")


async def test_a_log_that_gave_up_is_reported_and_refuses_writes_at_once_then_heals(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    chirp = await running(nursery, **INTENSITY)
    client = chirp.app.test_client()
    ana_id, ana = await sign_up(chirp, "ana")
    posted = await client.post("/api/v1/tweet", headers=ana, json={"content": "before"})
    assert posted.status_code == 201

    await crash_loop(chirp, PARTITION)

    status, body, retry_after = await ready(chirp)
    assert status == 503 and retry_after == "2"
    [loop] = body["crash_loops"]
    assert (loop["name"], loop["gave_up"], loop["restart_in"]) == ("log", 1, 2.0)
    assert f"the last was {PARTITION} (killed)" in loop["last_error"]
    assert "log" in body["detail"] and "backing off" in body["detail"]
    assert {"log", PARTITION} <= set(body["unavailable"])
    tree = await (await client.get("/admin/actors", headers=admin())).get_json()
    log = find(tree, "log")
    assert (log["state"], log["gave_up"], log["restart_in"], log["restarts"]) == (
        "backoff",
        1,
        2.0,
        0,  # not restarted yet: that is what the backoff waits for
    )
    assert find(tree, PARTITION)["state"] == "backoff"
    assert tree["state"] == "running" and find(tree, "fanout")["state"] == "running"

    with trio.fail_after(0.001):  # refused at once, not after the publish's own deadline
        refused = await client.post("/api/v1/tweet", headers=ana, json={"content": "during"})
    assert refused.status_code == 503
    assert refused.content_type == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"
    feed = await client.get("/api/v1/feed", headers=ana)
    assert feed.status_code == 200, "reads go on meanwhile"
    assert [t["content"] for t in (await feed.get_json())["tweets"]] == ["before"]

    await trio.sleep(2.0)
    await trio.testing.wait_all_tasks_blocked()
    assert (await ready(chirp))[0] == 200
    after = await client.post("/api/v1/tweet", headers=ana, json={"content": "after"})
    assert after.status_code == 201
    timeline = await client.get(f"/api/v1/users/{ana_id}/tweets")
    assert [t["content"] for t in (await timeline.get_json())["tweets"]] == ["after", "before"]


async def test_a_poison_event_crash_loops_its_topic_ever_slower_while_the_rest_serves(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A record no consumer can handle crashes each group's consumer at every delivery:
    each topic's subtree gives up again and again, backing off twice as long each time,
    and the process (whose root would give up within milliseconds without a backoff)
    stays up, saying which subtrees loop. Other topics go on: follows still fan out."""
    chirp = await running(nursery, **INTENSITY)
    client = chirp.app.test_client()
    ana_id, ana = await sign_up(chirp, "ana")
    bob_id, bob = await sign_up(chirp, "bob")
    await chirp.log.publish("tweet_created", str(ana_id), {"not": "a tweet"})

    waits = []
    for _ in range(5):
        await trio.testing.wait_all_tasks_blocked()
        status, body, _ = await ready(chirp)
        assert status == 503
        loops = {loop["name"]: loop for loop in body["crash_loops"]}
        # Every group reading tweet_created, by its per-topic subtree; search's members
        # are its supervisor's own children, so it loops as a whole, in its own rhythm.
        per_topic = {f"{group}.tweet_created" for group in ("fanout", "trending", "notify")}
        assert per_topic <= loops.keys() <= per_topic | {"search"}
        waits.append(loops["fanout.tweet_created"]["restart_in"])
        await trio.sleep(waits[-1])
    assert waits == [2.0, 4.0, 8.0, 16.0, 16.0]
    await trio.testing.wait_all_tasks_blocked()
    tree = await (await client.get("/admin/actors", headers=admin())).get_json()
    looping = find(tree, "fanout.tweet_created")
    assert looping["gave_up"] == 6 and looping["state"] == "backoff"
    assert any("KeyError" in (c["last_error"] or "") for c in looping["children"])
    assert tree["state"] == "running" and find(tree, "fanout.user_followed")["state"] == "running"

    followed = await client.post(f"/api/v1/users/{ana_id}/follow", headers=bob)
    assert followed.status_code in (200, 201)
    await trio.testing.wait_all_tasks_blocked()
    inbox = await client.get("/api/v1/notifications", headers=ana)
    assert [n["type"] for n in (await inbox.get_json())["notifications"]] == ["follow"]
