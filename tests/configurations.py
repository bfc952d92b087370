"""chirp's two configurations for the API suite: everything embedded, and the full
production layout (PostgreSQL, DynamoDB, Redis) in a namespace of the test's own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import trio

from chirp.backends import Backends, drop_namespace, open_backends
from chirp.config import Settings
from tests.servers import Servers

#: Cleaning up may not hold a finished (or cancelled) test up for longer than this.
CLEANUP_TIMEOUT = 30.0
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123"


def production_overrides(servers: Servers) -> dict[str, str]:
    """Settings putting every store, the log included, on the real servers (each chirp
    then wants a ``namespace`` of its own)."""
    endpoint = urlsplit(servers.dynamodb_endpoint)
    return {
        "users": servers.postgres_dsn,
        "tweets": f"dynamodb://{endpoint.netloc}",
        "cache": servers.redis_url,
        "log": servers.redis_url,
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
