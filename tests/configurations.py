"""chirp's two configurations for the API suite: everything embedded, and the full
production layout (PostgreSQL, DynamoDB, Redis) in a namespace of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import trio

from chirp.backends import Backends, key_prefix, open_backends, table_prefix
from chirp.config import Settings
from tests.servers import Servers

#: Cleaning up may not hold a finished (or cancelled) test up for longer than this.
CLEANUP_TIMEOUT = 30.0
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123"


def production_overrides(servers: Servers) -> dict[str, str]:
    """Settings putting every store on the real servers (each chirp then wants a
    ``namespace`` of its own)."""
    endpoint = urlsplit(servers.dynamodb_endpoint)
    return {
        "users": servers.postgres_dsn,
        "tweets": f"dynamodb://{endpoint.netloc}",
        "cache": servers.redis_url,
        "jwt_secret": JWT_SECRET,
    }


@asynccontextmanager
async def production_backends(settings: Settings) -> AsyncIterator[Backends]:
    """`open_backends` for ``settings``; whatever it wrote under its namespace goes after."""
    try:
        async with open_backends(settings) as backends:
            yield backends
    finally:
        with trio.move_on_after(CLEANUP_TIMEOUT, shield=True):
            await drop_namespace(settings)


async def drop_namespace(settings: Settings) -> None:
    if settings.cache != "memory":
        from storage.redis import open_redis

        async with open_redis(settings.cache) as client:
            keys = [k async for k in client.scan_iter(match=f"{key_prefix(settings)}*")]
            for start in range(0, len(keys), 1000):
                await client.delete(keys[start : start + 1000])
    if settings.users != "memory":
        import asyncpg
        import trio_asyncio

        from storage.postgres.migrations import quote_ident

        async def drop() -> None:
            connection = await asyncpg.connect(settings.users)
            try:
                await connection.execute(
                    f"DROP SCHEMA IF EXISTS {quote_ident(settings.namespace)} CASCADE"
                )
            finally:
                await connection.close()

        async with trio_asyncio.open_loop() as loop:
            await loop.run_aio_coroutine(drop())
    if settings.tweets != "memory":
        from chirp.backends import dynamodb_endpoint
        from storage.dynamodb import open_dynamodb

        async with open_dynamodb(
            dynamodb_endpoint(settings.tweets), table_prefix=table_prefix(settings)
        ) as database:
            for name in database.table_names:
                await database.client.delete_table(TableName=name)
