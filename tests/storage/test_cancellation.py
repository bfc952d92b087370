"""Cancelling a call to a real store (an actor killed mid-call) never leaves its client
stuck: every later call still answers."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import trio

from tests.backends import scratch_redis
from tests.servers import Servers

#: A hung client fails the test instead of hanging it; the calls take milliseconds.
HANG = 10.0
NOW = datetime(2026, 11, 24, tzinfo=UTC)

Work = Callable[[int], Awaitable[None]]


@asynccontextmanager
async def redis_work(servers: Servers) -> AsyncIterator[tuple[Work, Work]]:
    async with scratch_redis(servers.redis_url) as stores:
        cache, inboxes = stores.feed_cache, stores.notifications
        for user in range(5):
            await cache.store_feed(user, [])

        async def work(user: int) -> None:
            await inboxes.unread(user)
            await cache.push([(user, random.randrange(1, 10**6)), (user + 1, 7)])
            await cache.feed(user, limit=5)

        async def check(user: int) -> None:
            assert await inboxes.unread(99) == 0
            assert (await cache.feed(user, limit=1)) is not None

        yield work, check


@asynccontextmanager
async def postgres_work(servers: Servers) -> AsyncIterator[tuple[Work, Work]]:
    from tests.pg import scratch_postgres

    async with scratch_postgres(servers.postgres_dsn) as database:
        graph = database.graph

        async def work(user: int) -> None:
            await graph.follow(user, user + 1, NOW)
            await graph.counts([user, user + 1])
            await graph.unfollow(user, user + 1)

        async def check(user: int) -> None:
            assert await graph.is_following(user, 99) is False

        yield work, check


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_calls_cancelled_at_any_point_leave_the_client_working(
    backend: str, servers: Servers
) -> None:
    rng = random.Random(7)
    opener = redis_work if backend == "redis" else postgres_work
    async with opener(servers) as (work, check):

        async def worker(user: int) -> None:
            while True:
                await work(user)
                await trio.sleep(0)  # an actor's loop waits for work between calls

        for _ in range(200):
            async with trio.open_nursery() as nursery:
                for user in range(4):
                    nursery.start_soon(worker, user)
                # Cancelled after a random number of scheduler passes: mid-request,
                # mid-pipeline, between calls.
                for _ in range(rng.randrange(1, 60)):
                    await trio.sleep(0)
                nursery.cancel_scope.cancel()
            with trio.fail_after(HANG):
                await check(0)
