"""The servers a benchmark runs against: telling in one line which one does not answer,
dynalite started when no DynamoDB is named, and loading them from many tasks at once."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import trio

from chirp import pool
from chirp.config import Settings
from chirp.server import Chirp, assemble
from storage.protocols import BackendUnavailable

#: Concurrent tasks making accounts and warm feeds (not timed).
LOADERS = 32
#: Dropping the bench's namespace may hold the exit up this long, at most.
CLEANUP_SECONDS = 30.0


class Unreachable(Exception):
    """A server the run needs does not answer: the message says which and where."""


def check_answers(what: str, url: str, default_port: int) -> None:
    """Raise `Unreachable` unless something accepts a connection at ``url``'s host:port."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=3):
            return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise Unreachable(f"{what} at {host}:{port} is not answering ({reason})")


def check_postgres(dsn: str) -> None:
    """Raise `Unreachable` unless ``dsn`` takes a connection (a missing database or a
    refused login is told here, in one line, before anything is written)."""
    import asyncpg
    import trio_asyncio

    from chirp.backends import redacted_netloc

    async def connect() -> None:
        async with trio_asyncio.open_loop() as loop:
            connection = await loop.run_aio_coroutine(asyncpg.connect(dsn, timeout=5))
            await loop.run_aio_coroutine(connection.close())

    try:
        trio.run(connect)
    except Exception as exc:  # noqa: BLE001 - whatever it is, the run cannot use the server
        while isinstance(exc, ExceptionGroup) and exc.exceptions:  # trio's, around it
            exc = exc.exceptions[0]
        reason = str(exc) or type(exc).__name__
        raise Unreachable(f"PostgreSQL at {redacted_netloc(dsn)}: {reason}") from None


def unavailable(exc: BaseException) -> BackendUnavailable | None:
    """The `BackendUnavailable` inside ``exc`` (or its exception groups), if that is it."""
    if isinstance(exc, BackendUnavailable):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            if (found := unavailable(inner)) is not None:
                return found
    return None


def run(async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``trio.run``, with a backend that stopped answering turned into `Unreachable`."""
    try:
        return trio.run(async_fn, *args)
    except BaseException as exc:
        found = unavailable(exc)
        if found is None:
            raise
        raise Unreachable(str(found)) from None


async def in_tasks(
    items: Iterable[Any], work: Callable[[Any], Awaitable[object]], tasks: int = LOADERS
) -> None:
    """`chirp.pool.in_tasks`, ``LOADERS`` at a time unless told."""
    await pool.in_tasks(items, work, tasks)


@asynccontextmanager
async def on_servers(settings: Settings, **assembly: Any) -> AsyncIterator[Chirp]:
    """chirp assembled (``assembly``: `assemble`'s options) on the servers ``settings``
    names; its namespace is dropped afterwards, however the block ends."""
    from chirp.backends import drop_namespace, open_backends

    try:
        async with open_backends(settings) as backends:
            yield assemble(settings, backends=backends, **assembly)
    finally:
        with trio.move_on_after(CLEANUP_SECONDS, shield=True):
            await drop_namespace(settings)


@contextmanager
def dynamodb(url: str | None) -> Iterator[tuple[str, str]]:
    """The endpoint of the DynamoDB at ``url`` (checked), or of a dynalite started for
    the block when ``url`` is None; with a line saying which it is, for the report."""
    if url is not None:
        check_answers("DynamoDB", url, 80)
        yield url, f"DynamoDB: {url}"
        return
    import pytest

    from tests.dynalite import running_dynalite

    try:
        with running_dynalite() as endpoint:
            yield (
                endpoint,
                "DynamoDB is dynalite (Node, in memory) standing in: its figures are "
                "dynalite's, not AWS's",
            )
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise Unreachable(f"dynalite could not start ({exc.msg}); pass --dynamodb URL") from None
