"""Store calls that a cancellation cannot cut in half."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from .timing import wrap_methods

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
    return wrap_methods(cls, _shielded)


def _shielded(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        with trio.CancelScope(shield=True):
            return await method(*args, **kwargs)

    return call
