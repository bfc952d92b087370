"""Opening DynamoDB: one aiobotocore client per process, native trio through its httpx
session (no trio-asyncio), and the tables made ready before anything uses them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import botocore.exceptions
import trio
from aiobotocore.config import AioConfig
from aiobotocore.httpxsession import HttpxSession
from aiobotocore.session import get_session

from storage.protocols import BackendUnavailable, StoreError

from .tweets import DynamoTweetStore, TweetTables

#: Hosts whose DynamoDB is a local stand-in (dynalite, DynamoDB Local): any key will do.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: What a local stand-in is given when the environment names no credentials.
DUMMY_CREDENTIALS = {"aws_access_key_id": "chirp", "aws_secret_access_key": "chirp"}
#: Requests in flight per client (botocore's default pool is 10): batches of a feed read and
#: the counts of a page run concurrently (`storage.dynamodb.tweets.CONCURRENT_REQUESTS`).
MAX_CONNECTIONS = 32


@dataclass
class DynamoDatabase:
    """The stores on one DynamoDB endpoint. ``client`` (aiobotocore) and the tables stay
    owned by `open_dynamodb`; ``table_names`` lists every table it made ready."""

    client: Any
    address: str
    tweets: DynamoTweetStore
    table_names: tuple[str, ...] = field(default=())


@asynccontextmanager
async def open_dynamodb(
    endpoint: str | None,
    *,
    table_prefix: str = "chirp_",
    region: str = "us-east-1",
    connect_timeout: float = 5.0,
    table_timeout: float = 300.0,
) -> AsyncIterator[DynamoDatabase]:
    """The stores on DynamoDB at ``endpoint`` (``http://127.0.0.1:8000`` for dynalite; None
    for AWS's own endpoint in ``region``), their tables (named ``table_prefix`` + name)
    created if missing (on-demand capacity) and ACTIVE. The client closes on exit; the
    tables and their data stay.

    Credentials come from the environment as botocore finds them; a local endpoint with
    no ``AWS_ACCESS_KEY_ID`` nor ``AWS_PROFILE`` set gets dummy ones.

    Raises `BackendUnavailable` naming the endpoint when it does not answer (one attempt,
    ``connect_timeout`` seconds), `StoreError` when a table exists with other keys than
    the store needs, and `trio.TooSlowError` when a table is still not ACTIVE after
    ``table_timeout`` seconds. Cancellation while tables are being created leaves them to
    finish on the server; the next open waits for them.
    """
    address = endpoint or f"AWS {region}"
    session = get_session()
    options = _client_options(endpoint, region)
    probe_config = _config(connect_timeout, attempts=1)
    async with session.create_client("dynamodb", config=probe_config, **options) as probe:
        try:
            await probe.list_tables(Limit=1)
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise BackendUnavailable("dynamodb", address, str(exc)) from None
    config = _config(connect_timeout, attempts=3)
    async with session.create_client("dynamodb", config=config, **options) as client:
        tables = TweetTables.named(table_prefix)
        try:
            with trio.fail_after(table_timeout):
                for definition in tables.definitions():
                    await _ensure_table(client, definition)
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise BackendUnavailable("dynamodb", address, str(exc)) from None
        yield DynamoDatabase(
            client=client,
            address=address,
            tweets=DynamoTweetStore(client, tables, address=address),
            table_names=tuple(tables),
        )


def _client_options(endpoint: str | None, region: str) -> dict[str, Any]:
    options: dict[str, Any] = {"region_name": region}
    if endpoint is not None:
        options["endpoint_url"] = endpoint
        configured = any(os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"))
        if urlsplit(endpoint).hostname in LOCAL_HOSTS and not configured:
            options |= DUMMY_CREDENTIALS
    return options


def _config(connect_timeout: float, *, attempts: int) -> AioConfig:
    return AioConfig(
        http_session_cls=HttpxSession,
        connect_timeout=connect_timeout,
        read_timeout=max(connect_timeout, 10.0),
        retries={"mode": "standard", "max_attempts": attempts},
        max_pool_connections=MAX_CONNECTIONS,
    )


async def _ensure_table(client: Any, definition: dict[str, Any]) -> None:
    """Create the table unless it exists (another process may be creating it right now),
    check its keys, and wait until it and its indexes are ACTIVE."""
    name = definition["TableName"]
    try:
        described = (await client.describe_table(TableName=name))["Table"]
    except botocore.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        try:
            described = (await client.create_table(**definition))["TableDescription"]
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
            described = (await client.describe_table(TableName=name))["Table"]
    _check_keys(definition, described)
    delay = 0.05
    while not _active(described):
        # DynamoDB has no "tell me when it is ready": DescribeTable until it is, as
        # botocore's table_exists waiter does, backing off to its 20 s delay at most.
        await trio.sleep(delay)
        delay = min(delay * 2, 20.0)
        described = (await client.describe_table(TableName=name))["Table"]


def _active(described: dict[str, Any]) -> bool:
    indexes = described.get("GlobalSecondaryIndexes", ())
    return described.get("TableStatus") == "ACTIVE" and all(
        index.get("IndexStatus") == "ACTIVE" for index in indexes
    )


def _check_keys(definition: dict[str, Any], described: dict[str, Any]) -> None:
    """A table left by another version of chirp with other keys would fail every call
    with a ValidationException; say so once, at start-up."""

    def keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in schema]

    def indexes(table: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
        found = table.get("GlobalSecondaryIndexes", ())
        return {i["IndexName"]: keys(i["KeySchema"]) for i in found}

    wanted, present = keys(definition["KeySchema"]), keys(described.get("KeySchema", []))
    missing = {
        name: schema
        for name, schema in indexes(definition).items()
        if indexes(described).get(name) != schema
    }
    if wanted != present or missing:
        raise StoreError(
            f"DynamoDB table {definition['TableName']} has keys {present} and indexes "
            f"{indexes(described)}; chirp needs keys {wanted} and indexes {indexes(definition)}"
        )
