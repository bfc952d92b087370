"""Opening PostgreSQL: one asyncpg pool per process, driven from trio through trio-asyncio."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import trio
import trio_asyncio

from storage.protocols import BackendUnavailable

from . import migrations
from .engagement import PostgresEngagementStore
from .graph import PostgresGraphStore
from .users import PostgresUserStore

#: The longest one statement may take. Store calls run shielded from cancellation
#: (`storage.atomic`), so this is what bounds one against a server that stopped answering.
COMMAND_TIMEOUT = 30.0
CLOSE_TIMEOUT = 5.0


class PostgresDatabase:
    """The stores kept in one PostgreSQL schema, sharing one pool.

    ``pool`` is an asyncpg (asyncio) pool: use it only on the asyncio side of ``loop``
    (``await loop.run_aio_coroutine(...)``). Both belong to `open_postgres`, which closes
    the pool on exit. ``migrated`` lists the migrations this opening applied (empty when
    the schema was up to date)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        loop: trio_asyncio.TrioEventLoop,
        schema: str,
        migrated: list[int],
    ) -> None:
        self.pool = pool
        self.loop = loop
        self.schema = schema
        self.migrated = migrated
        self.users = PostgresUserStore(pool, loop)
        self.graph = PostgresGraphStore(pool, loop)
        self.engagement = PostgresEngagementStore(pool, loop)


@asynccontextmanager
async def open_postgres(
    dsn: str,
    *,
    loop: trio_asyncio.TrioEventLoop,
    schema: str = "public",
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout: float = 10.0,
) -> AsyncIterator[PostgresDatabase]:
    """The database at ``dsn``, with every connection's ``search_path`` set to ``schema``
    (created if missing) and the migrations applied, yielded once it answered.

    ``loop`` is the trio-asyncio loop (``async with trio_asyncio.open_loop() as loop``) that
    runs the pool; it must stay open until this context exits. Raises `BackendUnavailable`
    naming ``postgresql`` and the DSN without its password when the server cannot be reached
    or refuses the login (each attempt waits at most ``connect_timeout`` seconds). The pool
    is closed on exit, even a cancelled one: its connections are released gracefully, or
    dropped after ``CLOSE_TIMEOUT`` seconds."""
    address = redacted(dsn)
    try:
        pool = await loop.run_aio_coroutine(
            asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=COMMAND_TIMEOUT,
                server_settings={
                    "search_path": migrations.quote_ident(schema),
                    "application_name": "chirp",
                },
            )
        )
    except _UNREACHABLE as exc:
        raise BackendUnavailable("postgresql", address, _reason(exc)) from None
    try:
        try:
            migrated = await loop.run_aio_coroutine(_migrate(pool, schema))
        except _UNREACHABLE as exc:
            raise BackendUnavailable("postgresql", address, _reason(exc)) from None
        yield PostgresDatabase(pool, loop, schema, migrated)
    finally:
        # Shielded, so a cancelled caller still closes the pool; bounded, so a server that
        # stopped answering cannot hold the exit up: then the connections are dropped.
        with trio.move_on_after(CLOSE_TIMEOUT, shield=True) as closing:
            await loop.run_aio_coroutine(pool.close())
        if closing.cancelled_caught:
            pool.terminate()


async def _migrate(pool: asyncpg.Pool, schema: str) -> list[int]:
    async with pool.acquire() as connection:
        return await migrations.apply(connection, schema)


#: What says the server could not be reached or would not let us in, rather than a bug.
_UNREACHABLE = (
    OSError,  # refused, unreachable, unknown host
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # starting up, shutting down
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # login refused
    asyncpg.exceptions.InvalidCatalogNameError,  # no such database
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redacted(dsn: str) -> str:
    """``dsn`` without its password (URL or ``key=value`` form), for messages and logs."""
    if "://" not in dsn:
        return _KEYWORD_PASSWORD.sub(r"\1***", dsn)
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if parts.password is not None:
        user = f"{parts.username}:***" if parts.username else ":***"
        netloc = f"{user}@{netloc.rsplit('@', 1)[1]}"
    query = _KEYWORD_PASSWORD.sub(r"\1***", parts.query.replace("&", " ")).replace(" ", "&")
    return urlunsplit(parts._replace(netloc=netloc, query=query))
