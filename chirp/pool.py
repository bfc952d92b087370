"""A pool of trio tasks working through items: the bulk loaders' (demo seeding, benches)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

import trio

T = TypeVar("T")


async def in_tasks(items: Iterable[T], work: Callable[[T], Awaitable[object]], tasks: int) -> None:
    """``work(item)`` for every item, ``tasks`` at a time: each task takes the next item
    as it finishes one."""
    pending = iter(items)

    async def worker() -> None:
        for item in pending:
            await work(item)

    async with trio.open_nursery() as nursery:
        for _ in range(tasks):
            nursery.start_soon(worker)
