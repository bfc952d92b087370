"""Several chirp processes on the same servers form one service: any serves any request,
and a process killed with SIGKILL mid-burst loses no acknowledged tweet, because its
partitions' leases lapse and the survivor takes them over."""

from __future__ import annotations

import random
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import trio

from chirp.backends import drop_namespace
from chirp.config import Settings
from chirp.ids import worker_of
from storage.partitioning import partition_for
from tests.backends import scratch_name
from tests.configurations import production_overrides
from tests.servers import Servers
from tests.sse import event_stream
from tests.test_process import ADMIN_TOKEN, chirp_process, url_in

#: Every step waits on a condition, bounded by this (leases lapse in LEASE seconds).
LIMIT = 90.0
LEASE = 2.0
AUTHORS, FOLLOWERS, BURST = 4, 3, 60
TWEET_PARTITIONS = 8
#: Another process answers over HTTP only: its state is asked for again this often.
POLL = 0.05


def shared_environment(servers: Servers, namespace: str) -> dict[str, str]:
    """The API suite's production settings, as the variables a process reads."""
    stores = {
        f"CHIRP_{name.upper()}": value for name, value in production_overrides(servers).items()
    }
    return stores | {
        "CHIRP_NAMESPACE": namespace,
        "CHIRP_ADMIN_TOKEN": ADMIN_TOKEN,
        "CHIRP_LEASE_SECONDS": str(LEASE),
        "CHIRP_PASSWORD_MEMORY_KIB": "64",
        "CHIRP_PASSWORD_TIME_COST": "1",
        "CHIRP_PARTITIONS": f'{{"tweet_created": {TWEET_PARTITIONS}}}',
        "CHIRP_RATE_TWEETS_PER_USER": "100000",
        "CHIRP_RATE_CALLS_PER_USER": "100000",
        "CHIRP_RATE_REQUESTS_PER_IP": "1000000",
    }


@asynccontextmanager
async def service(servers: Servers, count: int) -> AsyncIterator[list[tuple[Any, str]]]:
    """``count`` chirp processes sharing one namespace; it is dropped afterwards."""
    namespace = scratch_name("t")
    environment = shared_environment(servers, namespace)
    try:
        async with AsyncExitStack() as stack, trio.open_nursery() as nursery:
            running = []
            for _ in range(count):  # no worker ids given: each leases its own
                process, lines = await stack.enter_async_context(chirp_process(**environment))
                nursery.start_soon(drain, process)  # a full pipe would stall its logging
                running.append((process, url_in(lines)))
            yield running
            nursery.cancel_scope.cancel()
    finally:
        with trio.move_on_after(LIMIT, shield=True):
            await drop_namespace(Settings(**_settings_of(environment)))


def _settings_of(environment: dict[str, str]) -> dict[str, str]:
    names = ("USERS", "TWEETS", "CACHE", "LOG", "NAMESPACE", "JWT_SECRET")
    return {name.lower(): environment[f"CHIRP_{name}"] for name in names}


async def drain(process: Any) -> None:
    while await process.stdout.receive_some():
        pass


async def sign_up(client: httpx.AsyncClient, name: str) -> tuple[int, dict[str, str]]:
    body = {"username": name, "email": f"{name}@example.org", "password": "long enough pw"}
    response = await client.post("/api/v1/users", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return created["user"]["user_id"], {"Authorization": f"Bearer {created['access_token']}"}


async def feed_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get("/api/v1/feed", headers=headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    return [tweet["tweet_id"] for tweet in response.json()["tweets"]]


async def search_ids(client: httpx.AsyncClient, query: str) -> list[str]:
    answer = await client.get("/api/v1/search", params={"q": query, "type": "tweets"})
    assert answer.status_code == 200, answer.text
    return [t["tweet_id"] for t in answer.json()["results"]]


async def stream_hears_the_other(
    posting: httpx.AsyncClient, listening_url: str, author: dict[str, str], reader: dict[str, str]
) -> None:
    """A stream open on one process (a plain HTTP/1.1 client on a socket, read as it
    arrives) gets the feed entry of a tweet posted through the other. The other learns of
    the stream within a broadcast's round trip, so a tweet posted in that moment may go
    untold (streams are at most once): each try posts anew."""
    parts = urlsplit(listening_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with trio.fail_after(LIMIT):
        async with event_stream(host, port, reader["Authorization"]) as events:
            for attempt in range(5):
                body = {"content": f"live {attempt}"}
                posted = await posting.post("/api/v1/tweet", headers=author, json=body)
                assert posted.status_code == 201, posted.text
                with trio.move_on_after(LIMIT / 10):
                    await events.until(f'"tweet_id": "{posted.json()["tweet_id"]}"'.encode())
                    return
    raise AssertionError("the stream never heard a tweet posted through the other process")


def owned(tree: dict[str, Any], group: str, topic: str) -> set[int]:
    """The partitions of ``topic`` this process's ``group`` members hold leases on."""
    found: set[int] = set()
    for child in tree.get("children", []):
        if child.get("group") == group and child.get("topic") == topic:
            found.update(child.get("owned", []))
        found |= owned(child, group, topic)
    return found


async def test_two_processes_serve_as_one_and_a_killed_one_loses_nothing(
    servers: Servers,
) -> None:
    async with service(servers, 2) as [(doomed, doomed_url), (_, survivor_url)]:
        async with (
            httpx.AsyncClient(base_url=doomed_url, timeout=LIMIT) as first,
            httpx.AsyncClient(base_url=survivor_url, timeout=LIMIT) as second,
        ):
            # Posted through one, read through the other.
            authors = [await sign_up(first, f"author{n}") for n in range(AUTHORS)]
            readers = [await sign_up(second, f"reader{n}") for n in range(FOLLOWERS)]
            for _, headers in readers:
                for author_id, _ in authors:
                    path = f"/api/v1/users/{author_id}/follow"
                    followed = await first.post(path, headers=headers)
                    assert followed.status_code in (200, 201, 204), followed.text
            author = authors[0][1]
            hello = await first.post("/api/v1/tweet", headers=author, json={"content": "hello"})
            assert hello.status_code == 201, hello.text
            acknowledged = [hello.json()["tweet_id"]]
            with trio.fail_after(LIMIT):
                while hello.json()["tweet_id"] not in await feed_ids(second, readers[0][1]):
                    await trio.sleep(POLL)
                # Searched through the other too: each process's index follows every
                # partition, whichever process consumed it for the feeds.
                while hello.json()["tweet_id"] not in await search_ids(second, "hello"):
                    await trio.sleep(POLL)

            # Both processes consume: the doomed one holds some of the fan-out's partitions.
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            tree = (await first.get("/admin/actors", headers=admin)).json()
            held = owned(tree, "fanout", "tweet_created")
            assert held, "the doomed process consumes too"
            # A stream on the survivor hears a tweet the doomed process fans out (an author
            # and a listener of their own: the feeds checked below stay the readers').
            for n in range(100):
                live_id, live = await sign_up(first, f"live{n}")
                if partition_for(live_id, TWEET_PARTITIONS) in held:
                    break
            _, listener = await sign_up(second, "listener")
            followed = await first.post(f"/api/v1/users/{live_id}/follow", headers=listener)
            assert followed.status_code in (200, 201, 204), followed.text
            await stream_hears_the_other(first, survivor_url, live, listener)

            # A burst through both, by authors whose tweets land in different partitions;
            # the first process dies with SIGKILL half-way.
            rng = random.Random(5)

            async def post(n: int) -> None:
                client = first if rng.random() < 0.5 and doomed.returncode is None else second
                headers = authors[n % AUTHORS][1]
                try:
                    answer = await client.post(
                        "/api/v1/tweet", headers=headers, json={"content": f"burst {n}"}
                    )
                except httpx.TransportError:
                    return  # the killed process never answered: not acknowledged
                if answer.status_code == 201:
                    acknowledged.append(answer.json()["tweet_id"])

            for n in range(BURST):
                if n == BURST // 2:
                    doomed.send_signal(signal.SIGKILL)
                await post(n)
            assert len(acknowledged) > BURST // 2
            assert len(set(acknowledged)) == len(acknowledged)
            assert {worker_of(int(i)) for i in acknowledged} == {0, 1}, "two leased worker ids"

            # Every acknowledged tweet reaches every follower's feed through the survivor,
            # once each.
            expected = sorted(acknowledged, key=int, reverse=True)
            with trio.fail_after(LIMIT):
                for _, headers in readers:
                    while (ids := await feed_ids(second, headers)) != expected:
                        assert len(ids) == len(set(ids)), "no duplicates"
                        await trio.sleep(POLL)
