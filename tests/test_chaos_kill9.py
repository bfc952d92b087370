"""Chaos under load, then ``kill -9``: ``python main.py --data-dir`` takes the mixed write
load of `tests.chaos_load` while actors of every kind the admin API may kill (log
partitions, cache nodes, fan-out shards, trending, search, notify, the journal and the
snapshotter) are killed every 50–200 ms; mid-load the process gets SIGKILL, and is started
again on the same directory.

Afterwards, as in one process: chirp never answered a 500 or a 503 without Retry-After,
never hung; every acknowledged write is there once, no refused one shows, and each unknown
one (in flight at the kill, or cut off by a transport error) shows wholly or not at all,
consistently across timelines, feeds, search, trending and inboxes."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from .chaos import PacedChaos, leaf_actors
from .chaos_load import (
    HANG_LIMIT,
    HTTPX_UNFINISHED_BODY,
    Checks,
    Ledger,
    Load,
    answer,
    environment,
    eventually,
    sign_up,
    summary,
)
from .test_process import ADMIN_TOKEN, chirp_process, url_in

SEED = 19
PEOPLE = 8
#: Requests answered (or cut off) before SIGKILL; those in flight then are unknown.
KILL_AFTER = 1200
#: The load's ceiling, never reached before the kill.
REQUESTS = 5000
#: The HTTP actor is refused by the admin API (it would cut off the request asking).
KINDS = {"log", "cache", "fanout", "trending", "search", "notify", "durable"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ENVIRONMENT = environment(
    CHIRP_ADMIN_TOKEN=ADMIN_TOKEN,
    # Snapshots now and then under the load: start-up reads one and a journal after it.
    CHIRP_SNAPSHOT_EVERY="300",
)


@asynccontextmanager
async def chirp_on(directory: Path) -> AsyncIterator[tuple[trio.Process, httpx.AsyncClient]]:
    """``main.py --data-dir directory`` and a client of it (whose own timeout only backs
    up the ledger's hang guard)."""
    async with chirp_process("--data-dir", str(directory), **ENVIRONMENT) as (process, lines):
        async with httpx.AsyncClient(base_url=url_in(lines), timeout=2 * HANG_LIMIT) as client:
            yield process, client


def killer(admin: httpx.AsyncClient, ledger: Ledger):  # type: ignore[no-untyped-def]
    """Kills through ``POST /admin/actors/{name}/kill``: True if it landed (202), False if
    the actor was not running (409) or the process is gone; anything else is a violation."""

    async def kill(name: str) -> bool:
        with trio.move_on_after(HANG_LIMIT) as guard:
            try:
                response = await admin.post(f"/admin/actors/{name}/kill", headers=ADMIN)
            except httpx.TransportError:
                return False
        if guard.cancelled_caught:
            ledger.violations.append(f"kill {name}: no answer within {HANG_LIMIT} s")
            return False
        if response.status_code not in (202, 409):
            ledger.violations.append(f"kill {name}: {response.status_code} {response.text}")
        return response.status_code == 202

    return kill


@pytest.mark.filterwarnings(HTTPX_UNFINISHED_BODY)
async def test_kill_9_under_chaos_and_load_keeps_every_promise(tmp_path: Path) -> None:
    ledger = Ledger()
    async with chirp_on(tmp_path) as (process, client):
        people = [await sign_up(client, f"person{n}") for n in range(PEOPLE)]
        load = Load(client, people, ledger, random.Random(SEED), REQUESTS)
        load.milestone = KILL_AFTER
        async with httpx.AsyncClient(base_url=client.base_url, timeout=2 * HANG_LIMIT) as admin:
            tree = await answer(admin.get("/admin/actors", headers=ADMIN), 200)
            victims = [name for name in leaf_actors(tree) if name != "http"]
            chaos = PacedChaos(victims, killer(admin, ledger), random.Random(SEED + 1))
            assert chaos.kinds == KINDS
            async with trio.open_nursery() as persons:
                for person in people:
                    persons.start_soon(load.run, person)
                async with chaos.loose():
                    # Bounded: every request of the load has the ledger's hang guard.
                    await load.reached.wait()
                    with trio.fail_after(HANG_LIMIT):
                        await chaos.every_kind.wait()  # the load goes on meanwhile
                    process.kill()  # SIGKILL, with every person's next request on its way
                    load.stop.set()
    in_flight = ledger.counts()["unknown"]
    ledger.refusals_explained()
    print(summary(ledger, chaos.kills))
    assert ledger.violations == []
    assert set(chaos.kills) == KINDS, "every kind of actor was killed at least once"
    assert in_flight >= 1, "SIGKILL caught requests in flight"

    async with chirp_on(tmp_path) as (process, client):

        async def ready() -> None:
            assert await answer(client.get("/readyz"), 200, 503) == {"status": "ready"}

        await eventually(ready)
        await Checks(client, people, ledger).all_converge()
        assert await answer(client.get("/readyz"), 200) == {"status": "ready"}
