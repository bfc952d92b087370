"""Demo mode: its graphs and people, seeding, the trickle actor, and ``main.py --demo``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections import Counter

import httpx
import pytest
import trio
import trio.testing

from chirp import cli, model
from chirp.config import Settings
from chirp.demo import (
    DEMO_PASSWORD,
    TRICKLE,
    History,
    Seeded,
    Trickle,
    demo_settings,
    invent_people,
    power_law,
    read_reed98,
    reed98,
    seed,
)
from chirp.demo.graph import REED98, FollowGraph
from chirp.demo.people import CELEBRITIES
from chirp.demo.trickle import HOT_TURN, trickle_spec
from chirp.server import Chirp, assemble

from .api.conftest import fast_settings
from .test_process import ROOT, START_LIMIT, chirp_process, url_in

# --- graphs -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_power_law_graph() -> None:
    graph = power_law(800, seed=3)
    assert graph == power_law(800, seed=3)
    other = power_law(800, seed=4)
    assert other.edges != graph.edges


def test_a_power_law_graph_has_celebrities_and_a_long_tail() -> None:
    users, mean = 2_000, 20.0
    graph = power_law(users, mean_followees=mean)
    edges = graph.edges
    assert list(edges) == sorted(set(edges)), "sorted, each follow once"
    assert all(a != b and 0 <= a < users and 0 <= b < users for a, b in edges)
    followers = graph.follower_counts()
    stars = graph.celebrities
    assert len(stars) == 3
    ranked = sorted(range(users), key=lambda u: (-followers[u], u))
    assert list(stars) == ranked[:3], "the celebrities are the most followed, most first"
    assert all(followers[star] >= 0.4 * users for star in stars), [followers[s] for s in stars]
    assert sorted(followers)[users // 2] < mean, "most people have few followers"
    assert 0.7 * mean < len(edges) / users < 2 * mean
    following = Counter(a for a, _ in edges)
    assert all(following[star] >= 2 * mean for star in stars), "their home feeds are full"


@pytest.mark.skipif(not REED98.exists(), reason=f"no socfb-Reed98 data at {REED98}")
def test_reed98_follows_each_friendship_both_ways() -> None:
    users, edges = read_reed98()
    assert users == 962 and len(edges) == 2 * 18_812
    assert set(edges) == {(b, a) for a, b in edges}
    graph = reed98()
    followers = graph.follower_counts()
    assert followers[graph.celebrities[0]] == max(followers)


def test_people_are_deterministic_unique_and_valid() -> None:
    regions = ["global", "us", "uk"]
    crowd = invent_people(3_000, regions=regions, celebrities=(7, 3), seed=5)
    assert crowd == invent_people(3_000, regions=regions, celebrities=(7, 3), seed=5)
    names = [p.username.casefold() for p in crowd]
    assert len(set(names)) == len(names)
    assert all(model.is_username(p.username) for p in crowd)
    for person in crowd:
        model.display_name(person.display_name)
        model.bio(person.bio)
    assert {p.region for p in crowd} == set(regions)
    assert crowd[7].username == CELEBRITIES[0][1] and crowd[3].username == CELEBRITIES[1][1]


# --- settings ---------------------------------------------------------------------------


def test_demo_mode_livens_trending_unless_told_otherwise() -> None:
    lively = demo_settings(Settings())
    assert (lively.trend_rescore_seconds, lively.trend_cache_seconds) == (5.0, 2.0)
    chosen = demo_settings(Settings(trend_rescore_seconds=30.0))
    assert chosen.trend_rescore_seconds == 30.0 and chosen.trend_cache_seconds == 2.0


def test_demo_mode_refuses_production_backends(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHIRP_CACHE", "redis://127.0.0.1:6379/0")
    assert cli.main(["--demo"]) == 2
    error = capsys.readouterr().err
    assert "--demo runs on the embedded stores only" in error and "CHIRP_CACHE" in error


# --- seeding and the trickle, in process -------------------------------------------------


async def seeded_chirp(nursery: trio.Nursery, graph: FollowGraph) -> tuple[Chirp, Seeded]:
    chirp = assemble(fast_settings())
    await nursery.start(chirp.system.run)
    return chirp, await seed(chirp, graph, progress=False)


async def seeded_then_virtual(
    nursery: trio.Nursery, clock: trio.testing.MockClock, graph: FollowGraph
) -> tuple[Chirp, Seeded]:
    """Seeded on a clock that keeps real time, since seeding waits on threads (a hash,
    the search index's commit) that an autojumping clock would outrun; then time is
    virtual and jumps whenever everything waits."""
    clock.rate = 1.0
    seeded = await seeded_chirp(nursery, graph)
    clock.rate = 0.0
    clock.autojump_threshold = 0.0
    return seeded


async def test_seeding_fills_chirp_and_the_demo_login_sees_a_feed_and_trends(
    nursery: trio.Nursery,
) -> None:
    graph = power_law(300)
    chirp, seeded = await seeded_chirp(nursery, graph)
    counts = seeded.counts
    assert counts["users"] == 300
    assert counts["follows"] == len(graph.edges)
    history = History()
    # A repeated text is refused as spam and skipped: a few at most.
    assert counts["tweets"] + counts["skipped"] >= 300 * history.tweets
    assert counts["tweets"] >= 0.9 * 300 * history.tweets
    assert counts["likes"] > 0 and counts["retweets"] > 0 and counts["replies"] > 0
    login = seeded.crowd.login
    assert login.username == CELEBRITIES[0][1]

    client = chirp.app.test_client()
    answer = await client.post(
        "/api/v1/auth/token", json={"username": login.username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200
    bearer = {"Authorization": f"Bearer {(await answer.get_json())['access_token']}"}
    feed = await client.get("/api/v1/feed?limit=20", headers=bearer)
    assert feed.status_code == 200
    assert len((await feed.get_json())["tweets"]) == 20
    trends = await (await client.get("/api/v1/trending?region=global")).get_json()
    assert trends["trends"], "hot tags trend from the first page"
    found = await client.get(f"/api/v1/search?type=users&q={login.username}")
    assert [u["username"] for u in (await found.get_json())["results"]][0] == login.username


async def test_the_trickle_acts_over_time_and_resumes_after_a_kill(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    chirp, seeded = await seeded_then_virtual(nursery, mock_clock, power_law(60))
    crowd = seeded.crowd
    tweets_before = seeded.counts["tweets"] + seeded.counts["replies"]
    services = chirp.services
    await chirp.system.spawn(
        trickle_spec(crowd, tweets=services.tweets, users=services.users, rate=2.0),
        parent="root",
    )
    await trio.sleep(100)  # virtual: about 200 actions
    done = sum(crowd.done.values())
    assert 150 <= done + sum(crowd.skipped.values()) <= 201
    assert crowd.done["tweets"] > 0 and crowd.done["likes"] > 0 and crowd.done["follows"] > 0
    assert chirp.system.restarts(TRICKLE) == 0, "expected refusals are skipped, not crashes"

    chirp.system.kill(TRICKLE)
    await trio.testing.wait_all_tasks_blocked()
    assert chirp.system.restarts(TRICKLE) == 1
    await trio.sleep(50)
    assert chirp.system.state(TRICKLE) == "running"
    assert sum(crowd.done.values()) > done + 50, "the restarted trickle carries on"
    total = sum([len(await chirp.stores.tweets.by_user(u, limit=1000)) for u in crowd.user_ids])
    assert total > tweets_before


async def test_the_hot_tags_take_turns(
    nursery: trio.Nursery, mock_clock: trio.testing.MockClock
) -> None:
    chirp, seeded = await seeded_then_virtual(nursery, mock_clock, power_law(40))
    trickle = Trickle(
        seeded.crowd, tweets=chirp.services.tweets, users=chirp.services.users, rate=1.0
    )
    first = trickle.describe()["hot_tags"]
    await trio.sleep(HOT_TURN)
    second = trickle.describe()["hot_tags"]
    assert first != second and first[1:] == second[:-1], "one leaves, one arrives"


# --- the real process --------------------------------------------------------------------


async def test_main_demo_prints_a_login_that_works_over_http() -> None:
    async with chirp_process("--demo", "--demo-users", "300") as (process, lines):
        assert lines[-1].startswith("chirp listening on")
        login = next(m for line in lines if (m := re.match(r"demo login: (\S+) / (\S+)", line)))
        username, password = login.groups()
        assert password == DEMO_PASSWORD
        token = next(line for line in lines if line.startswith("admin token: ")).split()[-1]
        url = url_in(lines)
        assert f"dashboard: {url}/dashboard#token={token}" in lines
        assert any(line.startswith("demo: power-law 300: 300 users") for line in lines)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answer = await client.post(
                "/api/v1/auth/token", json={"username": username, "password": password}
            )
            assert answer.status_code == 200, answer.text
            bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            feed = await client.get("/api/v1/feed", headers=bearer)
            assert feed.status_code == 200 and feed.json()["tweets"]
            tree = await client.get("/admin/actors", headers={"Authorization": f"Bearer {token}"})
            assert TRICKLE in tree.text
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(START_LIMIT):
            assert await process.wait() == 0


async def test_a_signal_while_seeding_stops_cleanly() -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CHIRP_")}
    # Big enough that seeding is still going when the signal lands (tens of seconds).
    command = [sys.executable, str(ROOT / "main.py"), "--port", "0", "--demo"]
    process = await trio.lowlevel.open_process(
        [*command, "--demo-users", "30000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=environment,
        cwd=ROOT,
    )
    assert process.stdout is not None
    output = b""
    try:
        with trio.fail_after(START_LIMIT):
            while b"seeding demo" not in output:
                chunk = await process.stdout.receive_some()
                assert chunk, output
                output += chunk
            process.send_signal(signal.SIGINT)
            assert await process.wait() == 0
            while chunk := await process.stdout.receive_some():
                output += chunk
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()
    text = output.decode()
    assert "chirp: stopped before serving" in text
    assert "chirp listening on" not in text
    assert "Traceback" not in text and "crashed" not in text
