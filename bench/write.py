"""``python -m bench write``: tweets per second through the service layer, in process.

Beside it, measured in the same run with the same concurrency, the log's raw publish rate
(a bare log, nothing consuming). A tweet is validated, spam-checked, stored, published and
hydrated for its answer, while the whole tree runs beside it (the fan-out group consumes
every tweet as it comes), so the ratio says what the write path costs in a live process
on top of the publish it ends with.
"""

from __future__ import annotations

import statistics
import time
from functools import partial
from pathlib import Path

import trio

from actors import ActorSystem, SupervisorSpec
from chirp.backends import open_backends
from chirp.config import Settings
from chirp.server import assemble
from storage.memory import MemoryEventLog

from .actors import Row, as_figures, report
from .results import Section

USERS = 1_000


async def with_chirp(body, data_dir: Path | None = None):  # type: ignore[no-untyped-def]
    settings = Settings(
        admin_token="bench-admin-token-0123456789",
        password_memory_kib=64,
        password_time_cost=1,
        data_dir=data_dir,
    )
    async with open_backends(settings) as backends:
        chirp = assemble(settings, backends=backends)
        async with trio.open_nursery() as nursery:
            await nursery.start(chirp.system.run)
            rate = await body(chirp)
            await chirp.system.shutdown()
    return rate


async def tweets_per_second(tweets: int, writers: int, data_dir: Path | None = None) -> float:
    async def body(chirp) -> float:  # type: ignore[no-untyped-def]
        people = []
        for n in range(USERS):
            view, _ = await chirp.services.users.register(
                username=f"b{n}", email=f"b{n}@bench.example", password="long enough pw"
            )
            people.append(view.user.user_id)

        async def writer(index: int) -> None:
            for i in range(index, tweets, writers):
                await chirp.services.tweets.post(
                    people[i % USERS], f"tweet number {i} about #bench and @b{i % 97}"
                )

        started = time.perf_counter()
        async with trio.open_nursery() as load:
            for index in range(writers):
                load.start_soon(writer, index)
        return tweets / (time.perf_counter() - started)

    return await with_chirp(body, data_dir)


async def publishes_per_second(events: int, writers: int) -> float:
    """The foundation's raw rate: a bare log of the same topics, nothing consuming it."""
    log = MemoryEventLog(Settings().partitions)
    system = ActorSystem(SupervisorSpec("root", [log.supervisor_spec()]))
    log.attach(system)

    async def publisher(index: int) -> None:
        for i in range(index, events, writers):
            await log.publish(
                "tweet_created", i % USERS, {"tweet_id": i, "user_id": i % USERS, "content": "x"}
            )

    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        started = time.perf_counter()
        async with trio.open_nursery() as load:
            for index in range(writers):
                load.start_soon(publisher, index)
        rate = events / (time.perf_counter() - started)
        await system.shutdown()
    return rate


async def measure(tweets: int, repeat: int) -> list[Row]:
    rows = []
    for writers in (1, 64):
        ceiling = statistics.median(
            [await publishes_per_second(tweets, writers) for _ in range(repeat)]
        )
        rate = statistics.median([await tweets_per_second(tweets, writers) for _ in range(repeat)])
        rows.append(
            Row(
                f"tweets posted, {writers} writer(s)",
                rate,
                f"log publish, {writers} publisher(s)",
                ceiling,
            )
        )
    return rows


def section(tweets: int, repeat: int) -> Section:
    rows = trio.run(partial(measure, tweets, repeat))
    return Section("write", "The tweet write path", as_figures(rows, "tweets/s"), report(rows))


def main(tweets: int, repeat: int) -> None:
    print(section(tweets, repeat).text)
