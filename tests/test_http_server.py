"""HTTP on a real socket: serving, draining on shutdown, surviving a restart."""

from __future__ import annotations

from functools import partial

import httpx
import trio
import trio.testing

from chirp.config import Settings
from chirp.server import Running, serve

from .api.conftest import fast_settings


def settings() -> Settings:
    return fast_settings(port=0, shutdown_grace=30)


async def test_shutdown_drains_the_request_in_flight_and_refuses_new_ones() -> None:
    entered, release, answered, stop = trio.Event(), trio.Event(), trio.Event(), trio.Event()
    answers: list[httpx.Response] = []
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(
            partial(serve, settings(), shutdown_trigger=stop.wait)
        )

        async def slow() -> dict[str, str]:
            entered.set()
            await release.wait()
            return {"done": "yes"}

        running.chirp.app.add_url_rule("/slow", view_func=slow)
        async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:

            async def request_slow() -> None:
                answers.append(await client.get("/slow"))
                answered.set()

            nursery.start_soon(request_slow)
            await entered.wait()
            stop.set()
            await trio.testing.wait_all_tasks_blocked()
            assert running.chirp.system.state("http") == "stopping"
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as fresh:
                try:
                    late = await fresh.get("/healthz")
                except httpx.ConnectError:
                    late = None
            assert late is None, "a request arriving while draining is refused, not queued"
            release.set()
            await answered.wait()
    assert [(r.status_code, r.json()) for r in answers] == [(200, {"done": "yes"})]
    assert answers[0].headers["connection"] == "close"
    assert running.chirp.system.state("root") == "stopped"


async def test_a_killed_http_actor_serves_the_same_port_again(nursery: trio.Nursery) -> None:
    stop = trio.Event()
    running: Running = await nursery.start(partial(serve, settings(), shutdown_trigger=stop.wait))
    system = running.chirp.system
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as client:
        assert (await client.get("/healthz")).status_code == 200
        system.kill("http")
        await trio.testing.wait_all_tasks_blocked()
        assert system.restarts("http") == 1
        assert (await client.get("/healthz")).json() == {"status": "ok"}
    stop.set()
