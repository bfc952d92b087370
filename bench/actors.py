"""``python -m bench actors``: the actor runtime and the event log against raw trio channels.

Every figure is a rate measured in this run beside its ceiling, also measured in this run:
  tell        one sender → one actor        vs  memory channel send → receive
  ask         C askers   → one actor        vs  memory channel + trio.Event round trips
  log         publish → consume → commit    vs  memory channel send → receive
              (100 partitions, a group of 4 consumers, 16/64/256 concurrent publishers)
Each is the median of ``repeat`` runs, so one noisy run on a shared machine does not decide.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from actors import Actor, ActorSpec, ActorSystem, SupervisorSpec
from storage.consumer import consumer_group
from storage.memory import MemoryEventLog
from storage.protocols import Record

from .results import Figure, Section

MAILBOX = 1024


@dataclass
class Row:
    name: str
    rate: float  # operations per second
    ceiling_name: str
    ceiling: float

    @property
    def ratio(self) -> float:
        return self.rate / self.ceiling


async def median_rate(runs: int, measure: Callable[[], Awaitable[float]]) -> float:
    return statistics.median([await measure() for _ in range(runs)])


async def raw_channel(n: int) -> float:
    send, receive = trio.open_memory_channel[int](MAILBOX)

    async def produce() -> None:
        for i in range(n):
            await send.send(i)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(produce)
        for _ in range(n):
            await receive.receive()
    return n / (time.perf_counter() - started)


async def raw_round_trips(n: int, clients: int) -> float:
    """Request/reply in plain trio, written as fast as trio allows: no yield on a send that
    fits, and the server takes what is waiting without a scheduler pass each."""
    send, receive = trio.open_memory_channel[tuple[int, trio.Event]](MAILBOX)

    async def server() -> None:
        while True:
            _, done = await receive.receive()
            done.set()
            while True:
                try:
                    _, done = receive.receive_nowait()
                except trio.WouldBlock:
                    break
                done.set()

    async def client(count: int) -> None:
        for i in range(count):
            done = trio.Event()
            try:
                send.send_nowait((i, done))
            except trio.WouldBlock:
                await send.send((i, done))
            await done.wait()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(server)
        started = time.perf_counter()
        async with trio.open_nursery() as callers:
            for _ in range(clients):
                callers.start_soon(client, n // clients)
        elapsed = time.perf_counter() - started
        nursery.cancel_scope.cancel()
    return (n // clients * clients) / elapsed


class Counter(Actor):
    def __init__(self) -> None:
        self.count = 0

    async def receive(self, message: Any) -> int:
        self.count += 1
        return self.count


async def with_counter(body: Callable[[ActorSystem], Awaitable[float]]) -> float:
    system = ActorSystem(
        SupervisorSpec("root", [ActorSpec("counter", Counter, mailbox_size=MAILBOX)])
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        rate = await body(system)
        await system.shutdown()
    return rate


async def tells(n: int) -> float:
    async def body(system: ActorSystem) -> float:
        ref = system.ref("counter")
        started = time.perf_counter()
        for i in range(n):
            await ref.tell(i)
        await ref.ask("sync")  # every tell before it has been handled
        return n / (time.perf_counter() - started)

    return await with_counter(body)


async def asks(n: int, clients: int) -> float:
    async def body(system: ActorSystem) -> float:
        ref = system.ref("counter")

        async def client(count: int) -> None:
            for i in range(count):
                await ref.ask(i)

        started = time.perf_counter()
        async with trio.open_nursery() as callers:
            for _ in range(clients):
                callers.start_soon(client, n // clients)
        return (n // clients * clients) / (time.perf_counter() - started)

    return await with_counter(body)


async def log_end_to_end(
    n: int, *, partitions: int, publishers: int, members: int, keys: int
) -> float:
    """Publish ``n`` events over ``keys`` keys from concurrent publishers; a consumer group
    applies and commits them. The clock stops when the last event is applied."""
    log = MemoryEventLog({"events": partitions}, mailbox_size=MAILBOX)
    applied = 0
    all_applied = trio.Event()

    async def apply(records: Sequence[Record]) -> None:
        nonlocal applied
        applied += len(records)
        if applied >= n:
            all_applied.set()

    group = consumer_group(log, group="bench", topic="events", members=members, handler=apply)
    system = ActorSystem(SupervisorSpec("root", [log.supervisor_spec(), group]))
    log.attach(system)

    async def publish(index: int) -> None:
        for i in range(index, n, publishers):
            await log.publish("events", i % keys, {"i": i, "user_id": i % keys})

    async with trio.open_nursery() as nursery:
        await nursery.start(system.run)
        started = time.perf_counter()
        async with trio.open_nursery() as load:
            for index in range(publishers):
                load.start_soon(publish, index)
        await all_applied.wait()
        elapsed = time.perf_counter() - started
        lag = sum(await log.lag("bench", "events"))
        await system.shutdown()
    if applied != n or lag > members * 500:
        raise AssertionError(f"applied {applied} of {n}, lag {lag}")
    return n / elapsed


async def measure(messages: int, events: int, repeat: int) -> list[Row]:
    channel = await median_rate(repeat, partial(raw_channel, messages))
    rows = [
        Row(
            "tell (1 sender)",
            await median_rate(repeat, partial(tells, messages)),
            "memory channel send/receive",
            channel,
        )
    ]
    for clients in (1, 64):
        ceiling = await median_rate(repeat, partial(raw_round_trips, messages // 2, clients))
        rate = await median_rate(repeat, partial(asks, messages // 2, clients))
        rows.append(
            Row(f"ask ({clients} askers)", rate, f"channel + Event round trip ({clients})", ceiling)
        )
    # Publishers stand for concurrent requests: more of them give each partition actor more
    # appends per wake-up, so throughput rises with load.
    for publishers in (16, 64, 256):
        log_rate = await median_rate(
            repeat,
            partial(
                log_end_to_end,
                events,
                partitions=100,
                publishers=publishers,
                members=4,
                keys=10_000,
            ),
        )
        rows.append(
            Row(
                f"log e2e, {publishers} publishers",
                log_rate,
                "memory channel send/receive",
                channel,
            )
        )
    return rows


def report(rows: list[Row]) -> str:
    lines = [
        f"{'measure':<30} {'ops/s':>10}   {'ceiling (same run)':<38} {'ops/s':>10}  ratio",
        "-" * 100,
    ]
    for row in rows:
        lines.append(
            f"{row.name:<30} {row.rate:>10,.0f}   {row.ceiling_name:<38} "
            f"{row.ceiling:>10,.0f}  {row.ratio:5.2f}"
        )
    return "\n".join(lines)


def as_figures(rows: list[Row], unit: str) -> list[Figure]:
    return [Figure(r.name, r.rate, unit, r.ceiling_name, r.ceiling) for r in rows]


def section(messages: int, events: int, repeat: int) -> Section:
    rows = trio.run(measure, messages, events, repeat)
    return Section(
        "actors", "The actor runtime and the event log", as_figures(rows, "ops/s"), report(rows)
    )


def main(messages: int, events: int, repeat: int) -> None:
    print(section(messages, events, repeat).text)
