"""Chaos under load, in one process: chirp served on a real loopback socket while persons
send mixed writes over HTTP and actors of every kind (log partitions, cache nodes, fan-out
shards, trending, search, notify and the HTTP server itself) are killed every 50–200 ms;
in the second test one subtree is also made to crash beyond its restart intensity.

Afterwards: chirp never answered a 500, never a 503 without Retry-After, never hung; every
acknowledged write is there once, no refused one shows, unknown ones (cut connections)
show wholly or not at all; feeds, search, trending and inboxes converge to what the stores
say; and the tree is whole again. The ledger and the checks are `tests.chaos_load`'s."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from functools import partial

import httpx
import pytest
import trio

from actors import ActorUnavailable
from chirp.server import Chirp, Running, serve

from .api.conftest import fast_settings
from .api.waiting import settled
from .chaos import PacedChaos, leaf_actors
from .chaos_load import (
    FAST,
    HANG_LIMIT,
    HTTPX_UNFINISHED_BODY,
    Checks,
    Ledger,
    Load,
    Outcome,
    answer,
    sign_up,
    summary,
)

SEED = 11
PEOPLE = 8
#: Requests of the load in all (the test takes ~6 s on two busy cores, checks included).
REQUESTS = 1500
KINDS = {"log", "cache", "fanout", "trending", "search", "notify", "http"}


async def chaos_under_load(
    nursery: trio.Nursery,
    requests: int,
    *,
    meanwhile: Callable[[Chirp, httpx.AsyncClient], Awaitable[None]] | None = None,
    **overrides: object,
) -> Ledger:
    """chirp on loopback, ``requests`` mixed writes by `PEOPLE` persons while every kind of
    actor is killed, and ``meanwhile`` run once a third of them have ended; then the
    verdicts that hold whatever happened, and the ledger for the test's own."""
    stop = trio.Event()
    settings = fast_settings(port=0, shutdown_grace=1, **FAST, **overrides)
    running: Running = await nursery.start(partial(serve, settings, shutdown_trigger=stop.wait))
    system = running.chirp.system

    async def kill(name: str) -> bool:
        try:
            system.kill(name)
        except ActorUnavailable:
            return False  # still restarting from an earlier kill
        return True

    # The hang guard is the ledger's; the client's own timeout only backs it up.
    async with httpx.AsyncClient(base_url=running.url, timeout=2 * HANG_LIMIT) as client:
        people = [await sign_up(client, f"person{n}") for n in range(PEOPLE)]
        ledger = Ledger()
        load = Load(client, people, ledger, random.Random(SEED), requests)
        load.milestone = requests // 3
        chaos = PacedChaos(leaf_actors(system.tree()), kill, random.Random(SEED + 1))
        assert chaos.kinds == KINDS
        async with chaos.loose():
            async with trio.open_nursery() as persons:
                for person in people:
                    persons.start_soon(load.run, person)
                if meanwhile is not None:
                    await load.reached.wait()
                    await meanwhile(running.chirp, client)
            with trio.fail_after(HANG_LIMIT):
                await chaos.every_kind.wait()  # on a fast machine, after the load
        ledger.refusals_explained()
        print(summary(ledger, chaos.kills))
        assert ledger.violations == []
        assert set(chaos.kills) == KINDS, "every kind of actor was killed at least once"

        await settled(running.chirp)
        await Checks(client, people, ledger).all_converge()
        assert await answer(client.get("/readyz"), 200) == {"status": "ready"}
        assert system.unavailable() == [] and system.backing_off() == []
    stop.set()
    return ledger


@pytest.mark.filterwarnings(HTTPX_UNFINISHED_BODY)
async def test_chaos_under_load_loses_nothing_and_answers_503_never_500(
    nursery: trio.Nursery,
) -> None:
    await chaos_under_load(nursery, REQUESTS)


@pytest.mark.filterwarnings(HTTPX_UNFINISHED_BODY)
async def test_a_log_crashing_beyond_its_intensity_under_load_is_refused_503_and_heals(
    nursery: trio.Nursery,
) -> None:
    """Mid-load, one partition is killed over and over until the log's supervisor gives
    up: for the backoff the log is down, writes are refused at once with 503 and
    Retry-After (each a failed write, invisible afterwards), /readyz names the crash loop;
    then the log comes back and everything converges as before."""
    reported: list[dict] = []

    async def crash_loop_the_log(chirp: Chirp, client: httpx.AsyncClient) -> None:
        victim = "log.tweet_created.0"
        with trio.fail_after(HANG_LIMIT):
            while not chirp.system.backing_off():
                if chirp.system.state(victim) == "running":
                    chirp.system.kill(victim)
                await trio.sleep(0.001)  # a restart is a few scheduler ticks away
        response = await client.get("/readyz")
        assert response.status_code == 503 and "retry-after" in response.headers
        reported.extend(response.json()["crash_loops"])

    ledger = await chaos_under_load(
        nursery,
        REQUESTS // 2,
        meanwhile=crash_loop_the_log,
        # Above what the paced kills alone reach in the test's few seconds.
        max_restarts=30,
        restart_window=10.0,
        restart_backoff=0.5,
        restart_backoff_max=1.0,
    )
    assert [loop["name"] for loop in reported] == ["log"]
    refused = [e for e in ledger.entries if e.status == 503]
    assert refused, "writes met the log while it was down, and were refused"
    assert all(e.outcome is Outcome.FAILED for e in refused)
