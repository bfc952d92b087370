"""Locks by key, made on first use and dropped when nobody holds or waits for them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class KeyedLocks:
    def __init__(self) -> None:
        self._held: dict[int, tuple[trio.Lock, list[int]]] = {}  # key -> (lock, [users])

    @asynccontextmanager
    async def __call__(self, key: int) -> AsyncIterator[None]:
        lock, users = self._held.setdefault(key, (trio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._held[key]


def whole() -> trio.CancelScope:
    """The scope a write runs in once it starts changing stores: cancelling the request
    that asked (its client hung up, the HTTP actor was killed) must not leave half of it
    applied, a tweet stored and never announced, a retweet deleted and still counted.
    What runs in it is bounded by its own timeouts (the log's publish timeout, each
    store's: Redis's reply timeout, PostgreSQL's command timeout, DynamoDB's), so a
    shielded write still ends. One gap: with --data-dir a write waits for the journal's
    fsync without a bound, so a journal flusher down for good would hold it."""
    return trio.CancelScope(shield=True)
