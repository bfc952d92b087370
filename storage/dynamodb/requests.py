"""The requests the tweet store makes beyond single items: Queries across their pages,
``Select=COUNT`` Queries, BatchGetItem and BatchWriteItem within DynamoDB's limits with
retries, all run a bounded number at a time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

import botocore.exceptions
import trio

from storage.protocols import BackendUnavailable

from .items import Item, _n

#: DynamoDB's limits per call.
BATCH_GET = 100
BATCH_WRITE = 25
#: How many requests one store call keeps in flight at once (counts, batches).
CONCURRENT_REQUESTS = 16
#: Throttled batch items are retried with exponential backoff, at most this many times.
BATCH_ATTEMPTS = 8


async def newest(
    client: Any,
    source: dict[str, Any],
    partition: tuple[str, dict[str, Any]],
    limit: int,
    max_id: int | None,
    since_id: int | None,
) -> list[Item]:
    """Up to ``limit`` items of one partition sorted by ``tweet_id``, newest first,
    ``since_id < tweet_id <= max_id``."""
    if limit <= 0:
        return []
    condition = "#pk = :pk"
    values = {":pk": partition[1]}
    low = None if since_id is None else since_id + 1
    if low is not None and max_id is not None:
        if low > max_id:
            return []
        condition += " AND tweet_id BETWEEN :low AND :high"
        values |= {":low": _n(low), ":high": _n(max_id)}
    elif max_id is not None:
        condition += " AND tweet_id <= :high"
        values[":high"] = _n(max_id)
    elif low is not None:
        condition += " AND tweet_id >= :low"
        values[":low"] = _n(low)
    return await query(
        client,
        **source,
        KeyConditionExpression=condition,
        ExpressionAttributeNames={"#pk": partition[0]},
        ExpressionAttributeValues=values,
        ScanIndexForward=False,
        limit=limit,
    )


async def query(client: Any, *, limit: int | None = None, **request: Any) -> list[Item]:
    """A Query's items across its pages, up to ``limit``."""
    items: list[Item] = []
    while True:
        if limit is not None:
            request["Limit"] = limit - len(items)
        page = await client.query(**request)
        items.extend(page["Items"])
        last = page.get("LastEvaluatedKey")
        if last is None or (limit is not None and len(items) >= limit):
            return items
        request["ExclusiveStartKey"] = last


async def counts(
    client: Any, ids: Iterable[int], source: dict[str, Any], partition: str
) -> dict[int, int]:
    wanted = list(dict.fromkeys(ids))

    async def count(key: int) -> int:
        request = {
            **source,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": partition},
            "ExpressionAttributeValues": {":pk": _n(key)},
            "Select": "COUNT",
        }
        total = 0
        while True:
            page = await client.query(**request)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    counted = await concurrently([lambda key=key: count(key) for key in wanted])
    return dict(zip(wanted, counted, strict=True))


async def batch_get(
    client: Any,
    table: str,
    keys: list[Item],
    *,
    projection: str | None = None,
    address: str,
    backoff: Callable[[int], Awaitable[None]],
) -> list[Item]:
    """The items found among ``keys`` (any order): BatchGetItem per 100 keys, run
    concurrently, retrying unprocessed keys after ``backoff(attempt)``."""
    options: dict[str, Any] = {"ConsistentRead": True}
    if projection is not None:
        options["ProjectionExpression"] = projection

    async def one_batch(batch: list[Item]) -> list[Item]:
        found: list[Item] = []
        request = {table: {"Keys": batch, **options}}
        for attempt in range(BATCH_ATTEMPTS):
            answer = await client.batch_get_item(RequestItems=request)
            found.extend(answer["Responses"].get(table, ()))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return found
            await backoff(attempt)
        raise _throttled(address, "BatchGetItem", table)

    batches = [keys[i : i + BATCH_GET] for i in range(0, len(keys), BATCH_GET)]
    if not batches:
        return []
    if len(batches) == 1:
        return await one_batch(batches[0])
    results = await concurrently([lambda b=b: one_batch(b) for b in batches])
    return [item for result in results for item in result]


async def write_batch(
    client: Any,
    table: str,
    requests: list[dict[str, Any]],
    *,
    address: str,
    backoff: Callable[[int], Awaitable[None]],
) -> None:
    """BatchWriteItem per 25 requests, retrying unprocessed ones after ``backoff(attempt)``."""
    for start in range(0, len(requests), BATCH_WRITE):
        pending = {table: requests[start : start + BATCH_WRITE]}
        for attempt in range(BATCH_ATTEMPTS):
            answer = await client.batch_write_item(RequestItems=pending)
            pending = answer.get("UnprocessedItems") or {}
            if not pending:
                break
            await backoff(attempt)
        else:
            raise _throttled(address, "BatchWriteItem", table)


def _throttled(address: str, operation: str, table: str) -> BackendUnavailable:
    return BackendUnavailable(
        "dynamodb",
        address,
        f"{operation} on {table} still had unprocessed items after {BATCH_ATTEMPTS} tries",
    )


async def concurrently(calls: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Run ``calls`` with at most `CONCURRENT_REQUESTS` in flight; results in order. The
    first failure cancels the rest and is raised as itself (not in an ExceptionGroup), as
    one call after another would raise it: the store's errors are its API."""
    results: list[Any] = [None] * len(calls)
    limiter = trio.CapacityLimiter(CONCURRENT_REQUESTS)

    async def run(index: int) -> None:
        async with limiter:
            results[index] = await calls[index]()

    try:
        async with trio.open_nursery() as nursery:
            for index in range(len(calls)):
                nursery.start_soon(run, index)
    except BaseExceptionGroup as group:
        failures = [e for e in _leaves(group) if not isinstance(e, trio.Cancelled)]
        if failures:
            raise failures[0] from None
        raise
    return results


def _leaves(group: BaseExceptionGroup) -> Iterator[BaseException]:
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


async def _backoff(attempt: int) -> None:
    """AWS's advice for unprocessed batch items: back off exponentially (capped at 1 s)."""
    await trio.sleep(min(1.0, 0.05 * 2**attempt))


def _code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")
