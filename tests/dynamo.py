"""A DynamoDB database of its own for one test: tables under a random prefix, deleted after."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from storage.dynamodb import DynamoDatabase, open_dynamodb

#: How long deleting the tables may hold up a test that is over (or cancelled).
CLEANUP_TIMEOUT = 30.0


@asynccontextmanager
async def scratch_dynamodb(endpoint: str) -> AsyncIterator[DynamoDatabase]:
    """`open_dynamodb` at ``endpoint`` with tables prefixed ``t<8 hex digits>_``, which are
    deleted when the block ends, even when it ends by cancellation."""
    prefix = "t" + secrets.token_hex(4) + "_"
    async with open_dynamodb(endpoint, table_prefix=prefix) as database:
        try:
            yield database
        finally:
            with trio.move_on_after(CLEANUP_TIMEOUT) as cleanup:
                cleanup.shield = True
                for name in database.table_names:
                    await database.client.delete_table(TableName=name)
