"""Scratch PostgreSQL databases for tests: a schema of their own each, dropped afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
import trio_asyncio

from storage.postgres import PostgresDatabase, open_postgres
from storage.postgres.migrations import quote_ident
from tests.backends import scratch_name


@asynccontextmanager
async def scratch_postgres(dsn: str, *, max_size: int = 4) -> AsyncIterator[PostgresDatabase]:
    """A `PostgresDatabase` in a fresh schema (``test_`` and random hex), on a trio-asyncio
    loop of its own; the schema and everything in it is dropped on exit, even a cancelled
    one."""
    async with trio_asyncio.open_loop() as loop:
        async with open_postgres(
            dsn, loop=loop, schema=scratch_name("test_"), max_size=max_size
        ) as database:
            try:
                yield database
            finally:
                with trio.CancelScope(shield=True):
                    await loop.run_aio_coroutine(
                        database.pool.execute(f"DROP SCHEMA {quote_ident(database.schema)} CASCADE")
                    )
