"""Store calls that a cancellation cannot cut in half."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from .timing import STORAGE_SECONDS, backend_of

C = TypeVar("C", bound=type)


def atomic(cls: C) -> C:
    """Make every public coroutine method of ``cls`` atomic with respect to cancellation:
    a call cancelled half-way finishes its round trips first, so it must be bounded by
    its client's own timeouts (Redis: `storage.redis.client.REPLY_TIMEOUT`).

    Seen here with both clients under random cancellations (a killed actor): coredis
    multiplexes requests on shared connections, and one abandoned mid-reply left the next
    caller waiting for ever within 300 tries; asyncpg behind trio-asyncio lost its
    connections the same way. A killed actor must not take its store down with it.

    Each call is timed too, for ``GET /metrics`` (`storage.timing`)."""
    backend = backend_of(cls.__module__)
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(method):
            setattr(cls, name, _shielded(method, (backend, cls.__name__, name)))
    return cls


def _shielded(
    method: Callable[..., Awaitable[Any]], labels: tuple[str, str, str]
) -> Callable[..., Awaitable[Any]]:
    """The call, shielded, and timed into `STORAGE_SECONDS` (the series appears at the
    first call, so a process lists only the backends it uses)."""
    timed: list[Any] = []

    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            with trio.CancelScope(shield=True):
                return await method(*args, **kwargs)
        finally:
            if not timed:
                timed.append(STORAGE_SECONDS.labels(*labels))
            timed[0].observe(time.perf_counter() - started)

    return call
