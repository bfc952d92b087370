"""What only the DynamoDB tweet store has: its tables, batches past DynamoDB's limits, the
order of its writes (no transactions on dynalite), and a clear error when it is not there.
The `TweetStore` contract itself runs in test_store_contracts.py."""

from __future__ import annotations

import itertools
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.exceptions
import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st

import storage.dynamodb.tweets as dynamo_tweets
from chirp.model import Tweet, TweetVersion
from storage.dynamodb import DynamoDatabase, DynamoTweetStore, open_dynamodb
from storage.memory import MemoryTweetStore
from storage.protocols import BackendUnavailable, StoreError
from tests.dynamo import scratch_dynamodb

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def tweet(tweet_id: int, user_id: int = 1, **fields: Any) -> Tweet:
    return Tweet(tweet_id, user_id, fields.pop("content", f"tweet {tweet_id}"), NOW, **fields)


@pytest.fixture
async def database(dynalite: str) -> AsyncIterator[DynamoDatabase]:
    async with scratch_dynamodb(dynalite) as database:
        yield database


class Crash(Exception):
    """The process dying between two writes."""


class Faulty:
    """The real client, except that ``method`` raises `Crash` when ``when(request)``."""

    def __init__(self, client: Any, method: str, when: Callable[[dict[str, Any]], bool]):
        self._client, self._method, self._when = client, method, when

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._client, name)
        if name != self._method:
            return call

        async def faulty(**request: Any) -> Any:
            if self._when(request):
                raise Crash(name)
            return await call(**request)

        return faulty


def faulty_store(
    database: DynamoDatabase, method: str, table: str, *, deleting: bool = False
) -> DynamoTweetStore:
    """The database's tweet store on a client that crashes at ``method`` on ``table`` (for
    BatchWriteItem, ``deleting``: only a batch of deletions)."""

    def touches(request: dict[str, Any]) -> bool:
        if request.get("TableName") == table:
            return True
        writes = request.get("RequestItems", {}).get(table)
        return writes is not None and (not deleting or "DeleteRequest" in writes[0])

    return DynamoTweetStore(
        Faulty(database.client, method, touches), database.tweets.tables, address="test"
    )


async def visible(store: DynamoTweetStore, tweet_id: int, user_id: int, tag: str) -> list[str]:
    """Every way a reader can see the tweet, named where it shows."""
    seen = []
    if await store.get(tweet_id) is not None:
        seen.append("get")
    if await store.get_many([tweet_id]):
        seen.append("get_many")
    if any(t.tweet_id == tweet_id for t in await store.by_user(user_id, limit=10)):
        seen.append("by_user")
    if any(t.tweet_id == tweet_id for t in await store.by_hashtag(tag, limit=10)):
        seen.append("by_hashtag")
    if (await store.tweet_counts([user_id]))[user_id]:
        seen.append("tweet_counts")
    if await store.history(tweet_id):
        seen.append("history")
    return seen


async def leftovers(database: DynamoDatabase, tweet_id: int, tags: list[str]) -> list[str]:
    """The tables that still hold an item about ``tweet_id``."""
    tables, client, key = database.tweets.tables, database.client, {"N": str(tweet_id)}
    left = []
    if "Item" in await client.get_item(TableName=tables.ids, Key={"tweet_id": key}):
        left.append("tweet_ids")
    for tag in tags:
        if "Item" in await client.get_item(
            TableName=tables.tags, Key={"tag": {"S": tag}, "tweet_id": key}
        ):
            left.append(f"tweet_tags {tag}")
    history = await client.query(
        TableName=tables.history,
        KeyConditionExpression="tweet_id = :id",
        ExpressionAttributeValues={":id": key},
    )
    if history["Items"]:
        left.append("tweet_history")
    return left


async def test_tables_are_created_once_and_reopened_with_their_data(dynalite: str) -> None:
    async with scratch_dynamodb(dynalite) as first:
        prefix = first.table_names[0].removesuffix("tweets")
        await first.tweets.put(tweet(1, hashtags=("Trio",)))
        async with open_dynamodb(dynalite, table_prefix=prefix) as again:
            assert again.table_names == first.table_names
            assert await again.tweets.get(1) == tweet(1, hashtags=("Trio",))
            listed = (await again.client.list_tables())["TableNames"]
            assert sorted(n for n in listed if n.startswith(prefix)) == sorted(first.table_names)


async def test_a_table_with_other_keys_is_refused_at_start_up(dynalite: str) -> None:
    async with scratch_dynamodb(dynalite) as database:
        prefix = database.table_names[0].removesuffix("tweets")
        stray = prefix + "other_"
        await database.client.create_table(
            TableName=stray + "tweets",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "tweet_id", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "tweet_id", "KeyType": "HASH"}],
        )
        try:
            with pytest.raises(StoreError, match=f"{stray}tweets"):
                async with open_dynamodb(dynalite, table_prefix=stray):
                    pass  # pragma: no cover
        finally:
            await database.client.delete_table(TableName=stray + "tweets")


async def test_get_many_reads_past_one_batch_of_100(database: DynamoDatabase) -> None:
    store = database.tweets
    async with trio.open_nursery() as nursery:
        for tweet_id in range(1, 251):
            nursery.start_soon(store.put, tweet(tweet_id, user_id=tweet_id % 7))
    found = await store.get_many([*range(1, 251), 999, 998, 5, 5])
    assert found == {i: tweet(i, user_id=i % 7) for i in range(1, 251)}
    assert await store.tweet_counts(range(7)) == {u: len(range(u or 7, 251, 7)) for u in range(7)}


async def test_unprocessed_batch_keys_are_asked_for_again(
    database: DynamoDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    for tweet_id in range(1, 6):
        await database.tweets.put(tweet(tweet_id))
    backoffs: list[int] = []

    async def no_wait(attempt: int) -> None:
        backoffs.append(attempt)
        await trio.lowlevel.checkpoint()

    monkeypatch.setattr(dynamo_tweets, "_backoff", no_wait)

    class Throttling:
        """Answers every BatchGetItem with its last key unprocessed (as DynamoDB does when
        a batch is throttled or its answer passes 16 MB)."""

        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        async def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            ((table, request),) = RequestItems.items()
            *asked, held_back = request["Keys"]
            answer = (
                await self._client.batch_get_item(RequestItems={table: {**request, "Keys": asked}})
                if asked
                else {"Responses": {}}
            )
            answer["UnprocessedKeys"] = {table: {**request, "Keys": [held_back]}}
            return answer

    store = DynamoTweetStore(Throttling(database.client), database.tweets.tables, address="test")
    with pytest.raises(BackendUnavailable, match="unprocessed"):
        await store.get_many([1, 2])  # never done: the last key is always held back

    class ThrottlingOnce(Throttling):
        calls = 0

        async def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            ThrottlingOnce.calls += 1
            if ThrottlingOnce.calls % 2:
                return await super().batch_get_item(RequestItems)
            return await self._client.batch_get_item(RequestItems=RequestItems)

    backoffs.clear()
    store = DynamoTweetStore(
        ThrottlingOnce(database.client), database.tweets.tables, address="test"
    )
    assert set(await store.get_many(range(1, 6))) == {1, 2, 3, 4, 5}
    assert backoffs == [0, 0]  # once per BatchGetItem round (ids, then tweets)


async def test_a_put_that_stops_midway_shows_nowhere_and_a_retry_finishes_it(
    database: DynamoDatabase,
) -> None:
    tables = database.tweets.tables
    store = database.tweets
    for method, table in [
        ("batch_write_item", tables.tags),  # after the id is claimed
        ("put_item", tables.tweets),  # after the tag items too
    ]:
        with pytest.raises(Crash):
            await faulty_store(database, method, table).put(tweet(7, hashtags=("Half",)))
        assert await visible(store, 7, 1, "half") == []
        assert await store.by_hashtag("half", limit=10) == []
    # The same id by someone else (a retry that changed nothing the store can tell apart):
    await store.put(tweet(7, user_id=2, hashtags=("whole",)))
    assert await visible(store, 7, 2, "whole") == [
        "get",
        "get_many",
        "by_user",
        "by_hashtag",
        "tweet_counts",
    ]
    assert await visible(store, 7, 1, "half") == ["get", "get_many"]  # id 7 is user 2's
    with pytest.raises(ValueError):
        await store.put(tweet(7, user_id=1))  # another author, same id: still one tweet 7
    assert await store.tweet_counts([1, 2]) == {1: 0, 2: 1}
    assert await store.delete(7) == tweet(7, user_id=2, hashtags=("whole",))
    assert await leftovers(database, 7, ["half", "whole"]) == []  # the stopped put's too


async def test_an_edit_that_stops_midway_changes_nothing_visible(database: DynamoDatabase) -> None:
    tables = database.tweets.tables
    store = database.tweets
    original = tweet(3, content="#old tweet", hashtags=("old",))
    await store.put(original)
    edited = tweet(3, content="#new tweet", hashtags=("new",), edited_at=NOW + timedelta(1))
    previous = TweetVersion(original.content, original.hashtags, (), (), NOW)
    with pytest.raises(Crash):  # history and new tag items written, the tweet not yet
        await faulty_store(database, "put_item", tables.tweets).edit(edited, previous)
    assert await store.get(3) == original
    assert await store.history(3) == []
    assert await store.by_hashtag("new", limit=10) == []
    assert await store.by_hashtag("old", limit=10) == [original]
    with pytest.raises(Crash):  # the tweet replaced, its old tag item not yet removed
        crashing = faulty_store(database, "batch_write_item", tables.tags, deleting=True)
        await crashing.edit(edited, previous)
    assert await store.get(3) == edited
    assert await store.history(3) == [previous]
    assert await store.by_hashtag("old", limit=10) == []
    assert await store.by_hashtag("new", limit=10) == [edited]


async def test_a_delete_that_stops_midway_leaves_the_tweet_gone(database: DynamoDatabase) -> None:
    tables = database.tweets.tables
    store = database.tweets
    original = tweet(4, hashtags=("gone",))
    await store.put(original)
    await store.edit(
        tweet(4, hashtags=("gone",), content="again"),
        TweetVersion(original.content, original.hashtags, (), (), NOW),
    )
    with pytest.raises(Crash):  # the tweet deleted, its tag items and history not yet
        await faulty_store(database, "batch_write_item", tables.tags).delete(4)
    assert await visible(store, 4, 1, "gone") == []
    assert await leftovers(database, 4, ["gone"]) == [
        "tweet_ids",
        "tweet_tags gone",
        "tweet_history",
    ]
    assert await store.delete(4) is None  # clears what was left
    assert await leftovers(database, 4, ["gone"]) == []


async def test_stale_tag_items_never_shorten_a_page(database: DynamoDatabase) -> None:
    tables = database.tweets.tables
    store = database.tweets
    for tweet_id in range(1, 9):
        await store.put(tweet(tweet_id, hashtags=("tag",)))
    for tweet_id in (8, 7, 5, 4):  # their tag item left behind by an edit that stopped
        old = await store.get(tweet_id)
        assert old is not None
        with pytest.raises(Crash):
            await faulty_store(database, "batch_write_item", tables.tags, deleting=True).edit(
                tweet(tweet_id, hashtags=("other",)), TweetVersion("", (), (), (), NOW)
            )
    assert [t.tweet_id for t in await store.by_hashtag("TAG", limit=3)] == [6, 3, 2]
    assert [t.tweet_id for t in await store.by_hashtag("tag", limit=9, max_id=5)] == [3, 2, 1]
    assert [t.tweet_id for t in await store.by_hashtag("tag", limit=9, since_id=2)] == [6, 3]


async def test_cursors_that_leave_nothing_between_them(database: DynamoDatabase) -> None:
    store = database.tweets
    for tweet_id in (10, 20, 30):
        await store.put(tweet(tweet_id, reply_to=1 if tweet_id > 10 else None))
    assert await store.by_user(1, limit=10, max_id=20, since_id=20) == []
    assert await store.by_user(1, limit=10, max_id=10, since_id=25) == []
    assert await store.by_user(1, limit=0) == []
    assert [t.tweet_id for t in await store.by_user(1, limit=10, max_id=30, since_id=10)] == [
        30,
        20,
    ]
    assert [t.tweet_id for t in await store.replies(1, limit=10, since_id=20)] == [30]


async def test_a_request_cancelled_midway_leaves_the_server_up(database: DynamoDatabase) -> None:
    store = database.tweets
    await store.put(tweet(1))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(store.get_many, range(1, 101))
        await trio.testing.wait_all_tasks_blocked()  # its request is out, no answer read
        nursery.cancel_scope.cancel()
    assert await store.get(1) == tweet(1)


async def test_losing_the_server_midway_is_a_clear_error(database: DynamoDatabase) -> None:
    class Gone:
        def __init__(self, client: Any) -> None:
            self._client = client

        def __getattr__(self, name: str) -> Any:
            return getattr(self._client, name)

        async def batch_get_item(self, **request: Any) -> Any:
            raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://gone")

    store = DynamoTweetStore(Gone(database.client), database.tweets.tables, address="here")
    for tweet_id in (1, 2):
        await store.put(tweet(tweet_id))
    with pytest.raises(BackendUnavailable, match="dynamodb at here is not answering"):
        await store.get_many(range(1, 251))  # three batches at once: one error, not a group


async def test_an_endpoint_nobody_listens_on_is_a_clear_error() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    with pytest.raises(BackendUnavailable) as raised:
        async with open_dynamodb(endpoint):
            pass  # pragma: no cover
    assert raised.value.backend == "dynamodb"
    assert raised.value.address == endpoint
    assert f"dynamodb at {endpoint} is not answering" in str(raised.value)


# The memory store is the reference: any sequence of writes leaves both answering alike.

TAGS = ("Trio", "trio", "py", "Rust")
Op = tuple[Any, ...]
ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.integers(1, 9),
            st.integers(1, 3),
            st.lists(st.sampled_from(TAGS), max_size=3),
            st.none() | st.integers(1, 9),
        ),
        st.tuples(st.just("edit"), st.integers(1, 9), st.lists(st.sampled_from(TAGS), max_size=3)),
        st.tuples(st.just("delete"), st.integers(1, 9)),
    ),
    max_size=14,
)


async def call(op: Op, base: int, memory: MemoryTweetStore, step: int) -> tuple[str, tuple]:
    """The store method and arguments ``op`` stands for: ids and users offset by ``base``,
    tags suffixed with it, an edit built from the tweet as it is (as the service does)."""
    at = NOW + timedelta(seconds=step)
    if op[0] == "put":
        _, tweet_id, user, tags, parent = op
        reply_to = None if parent is None else base + parent
        hashtags = tuple(f"{tag}{base}" for tag in tags)
        return "put", (
            Tweet(base + tweet_id, base + user, "", at, hashtags=hashtags, reply_to=reply_to),
        )
    if op[0] == "edit":
        _, tweet_id, tags = op
        old = await memory.get(base + tweet_id) or Tweet(base + tweet_id, base + 1, "", NOW)
        previous = TweetVersion(old.content, old.hashtags, (), (), old.edited_at or NOW)
        hashtags = tuple(f"{tag}{base}" for tag in tags)
        return "edit", (
            replace(old, content=f"edit {step}", hashtags=hashtags, edited_at=at),
            previous,
        )
    return "delete", (base + op[1],)


async def outcome(store: Any, method: str, arguments: tuple) -> Any:
    """What the call returned, or the type of what it raised."""
    try:
        return await getattr(store, method)(*arguments)
    except (ValueError, KeyError) as exc:
        return type(exc)


async def everything(store: Any, base: int) -> dict[str, Any]:
    ids, users = [base + i for i in range(1, 10)], [base + u for u in range(1, 4)]
    return {
        "get_many": await store.get_many(ids),
        "history": [await store.history(i) for i in ids],
        "by_user": [await store.by_user(u, limit=20) for u in users],
        "by_user_paged": [await store.by_user(u, limit=2, max_id=base + 7) for u in users],
        "by_user_since": [await store.by_user(u, limit=2, since_id=base + 3) for u in users],
        "replies": [await store.replies(i, limit=20) for i in ids],
        "tweet_counts": await store.tweet_counts(users),
        "reply_counts": await store.reply_counts(ids),
        "by_hashtag": [await store.by_hashtag(f"{t.upper()}{base}", limit=20) for t in TAGS],
        "by_hashtag_paged": [
            await store.by_hashtag(f"{t}{base}", limit=1, max_id=base + 6) for t in TAGS
        ],
    }


async def test_any_history_of_writes_reads_as_on_the_memory_store(
    database: DynamoDatabase,
) -> None:
    examples = itertools.count(1)

    async def compare(history: list[Op]) -> None:
        base = next(examples) * 1000  # ids and users of their own in the shared tables
        memory = MemoryTweetStore()
        for step, op in enumerate(history):
            method, arguments = await call(op, base, memory, step)
            expected = await outcome(memory, method, arguments)
            assert await outcome(database.tweets, method, arguments) == expected, op
        assert await everything(database.tweets, base) == await everything(memory, base)

    @settings(max_examples=25, deadline=None, database=None)
    @given(ops)
    def check(history: list[Op]) -> None:
        trio.from_thread.run(compare, history)

    await trio.to_thread.run_sync(check)
