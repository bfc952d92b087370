"""Tweets in DynamoDB: the seed's table (partition ``user_id``, sorted by time) and the
indexes that serve the rest of `TweetStore` with key lookups and queries, never a Scan.

The tables (names carry the database's prefix):

``tweets``
    Partition key ``user_id`` (N), sort key ``tweet_id`` (N): the seed's "partition
    user_id, sort timestamp". A Snowflake id starts with its timestamp, so sorting by
    ``tweet_id`` *is* sorting by time, with no tie between two tweets of the same
    millisecond; `by_user` is one Query read backwards between the cursors. The item holds
    the whole tweet and is the one truth about it: a tweet exists exactly while this item
    does, and every other item below is an index that readers check against it.
    GSI ``by_reply``: partition ``reply_to``, sort ``tweet_id``, all attributes projected.
    It is sparse (only replies carry ``reply_to``), serves `replies` in one Query and
    `reply_counts` with ``Select=COUNT``; DynamoDB maintains it with the item itself.
``tweet_ids``
    Partition key ``tweet_id`` → ``user_id``. The seed's "GSI tweet_id" as a table of its
    own: a GSI cannot be read with BatchGetItem nor consistently, and hydration (the feed
    path reads 20-100 tweets at once) wants both. `get_many` is one BatchGetItem here and
    one on ``tweets`` per 100 ids. Its conditional put is also what makes ids unique:
    ``tweets`` alone could not see the same id under another user. It also lists in
    ``tags`` every tag the tweet ever had a tag item for, so a delete finds them all.
``tweet_tags``
    Partition key ``tag`` (S, casefolded), sort key ``tweet_id``, plus ``user_id``: one item
    per (hashtag, tweet). The seed says "GSI hashtag", but a GSI key is one scalar
    attribute and a tweet has a list of hashtags; an item per pair is the standard way.
    `by_hashtag` is a Query here, then a BatchGetItem on ``tweets``.
``tweet_history``
    Partition key ``tweet_id``, sort key ``n`` (1, 2, ...): the earlier versions, oldest
    first. The tweet's item counts them in ``edits``; versions above that count are not
    there yet (an edit that did not finish) and are never shown.

Counts are Queries with ``Select=COUNT`` (on ``tweets`` per user, on ``by_reply`` per
tweet), not counter items: without transactions (dynalite has none) a counter and the item
it counts cannot change together, so a crash between the two writes would leave a count
that is wrong for good, while a COUNT is exact by construction. The price is a read that
grows with the count (one Query page per MB of items); a per-tweet counter written with
``TransactWriteItems`` is the upgrade if reply counts of viral tweets ever show up in the
bill, tested against real DynamoDB since dynalite cannot.

Writes without transactions, ordered so that a crash (or a cancellation) between any two
of them leaves nothing a reader can see wrongly, only invisible debris:

- `put`: claim the id in ``tweet_ids`` (conditional: a visible tweet with that id raises
  ValueError), write the tag items, then the ``tweets`` item, which makes the tweet
  visible everywhere at once. Before that last write the claim and the tag items show
  nowhere: readers hydrate through ``tweets``. Putting the same tweet again after a
  failed put takes the claim over and finishes the job.
- `edit`: write the old version as history item ``edits + 1``, add the new tags to the
  claim, write their tag items, then replace the ``tweets`` item (conditional on
  ``edits`` being what was read, so two edits cannot both take the same version number),
  then remove the tag items of tags dropped.
- `delete`: delete the ``tweets`` item first (returning it), then the tag items of every
  tag the claim lists, the history, and the claim last. Deleting again after a delete
  that stopped halfway (the id is still claimed) clears the rest.

Tag items are checked against the tweet they point to (`by_hashtag` keeps a tweet only if it
carries the tag now), so a tag item written for an edit that never landed, or left by a
delete that stopped halfway, is never shown. Ids are Snowflakes and never reused, so no two
different tweets race for one id; a double put of one tweet raises ValueError for one.

Reads of the tables are strongly consistent (read-your-writes, as the memory store); the
``by_reply`` index is eventually consistent on AWS (GSIs always are), synchronous on
dynalite.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.exceptions
import trio

from chirp.model import Tweet, TweetVersion
from storage.protocols import BackendUnavailable, StoreError

Item = dict[str, dict[str, Any]]

#: DynamoDB's limits per call.
BATCH_GET = 100
BATCH_WRITE = 25
#: How many requests one store call keeps in flight at once (counts, batches).
CONCURRENT_REQUESTS = 16
#: Throttled batch items are retried with exponential backoff, at most this many times.
BATCH_ATTEMPTS = 8
#: How many times an edit re-reads and retries when another edit landed in between.
EDIT_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class TweetTables:
    """The names of the tweet store's tables under one prefix."""

    tweets: str
    ids: str
    tags: str
    history: str

    @classmethod
    def named(cls, prefix: str) -> TweetTables:
        return cls(
            tweets=f"{prefix}tweets",
            ids=f"{prefix}tweet_ids",
            tags=f"{prefix}tweet_tags",
            history=f"{prefix}tweet_history",
        )

    def __iter__(self) -> Iterator[str]:
        return iter((self.tweets, self.ids, self.tags, self.history))

    def definitions(self) -> list[dict[str, Any]]:
        """``CreateTable`` arguments for each table (on-demand capacity)."""
        return [
            _table(
                self.tweets,
                ("user_id", "N"),
                ("tweet_id", "N"),
                indexes=[("by_reply", ("reply_to", "N"), ("tweet_id", "N"))],
            ),
            _table(self.ids, ("tweet_id", "N")),
            _table(self.tags, ("tag", "S"), ("tweet_id", "N")),
            _table(self.history, ("tweet_id", "N"), ("n", "N")),
        ]


def _table(
    name: str,
    partition: tuple[str, str],
    sort: tuple[str, str] | None = None,
    *,
    indexes: Sequence[tuple[str, tuple[str, str], tuple[str, str]]] = (),
) -> dict[str, Any]:
    attributes = dict([partition] + ([sort] if sort else []))
    for _, index_partition, index_sort in indexes:
        attributes.update([index_partition, index_sort])
    definition: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": t} for a, t in attributes.items()
        ],
        "KeySchema": _key_schema(partition, sort),
    }
    if indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index_name,
                "KeySchema": _key_schema(index_partition, index_sort),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index_name, index_partition, index_sort in indexes
        ]
    return definition


def _key_schema(partition: tuple[str, str], sort: tuple[str, str] | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition[0], "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort[0], "KeyType": "RANGE"})
    return schema


class DynamoTweetStore:
    """A `TweetStore` on DynamoDB (see the module's docstring for the tables and the order
    of writes). ``client`` is an aiobotocore DynamoDB client owned by the caller
    (`open_dynamodb`); ``address`` names the endpoint in errors.

    Raises `BackendUnavailable` when DynamoDB cannot be reached, or keeps throttling a
    batch after `BATCH_ATTEMPTS` retries. A call cancelled midway leaves what a crash
    would: nothing visible, and a later put or delete of the same tweet finishes the job.
    """

    def __init__(self, client: Any, tables: TweetTables, *, address: str) -> None:
        self._client = client
        self.tables = tables
        self._address = address

    # Writes

    async def put(self, tweet: Tweet) -> None:
        """Store a new tweet. Raises ValueError if a tweet with its id exists."""
        with self._reaching():
            await self._claim_id(tweet)
            await self._write_batch(
                self.tables.tags, [{"PutRequest": {"Item": i}} for i in _tag_items(tweet)]
            )
            try:
                await self._client.put_item(
                    TableName=self.tables.tweets,
                    Item=_tweet_item(tweet, edits=0),
                    ConditionExpression="attribute_not_exists(tweet_id)",
                )
            except botocore.exceptions.ClientError as exc:
                if _code(exc) == "ConditionalCheckFailedException":
                    raise ValueError(f"tweet {tweet.tweet_id} exists already") from None
                raise

    async def edit(self, tweet: Tweet, previous: TweetVersion) -> None:
        """Replace the tweet with its edited form and keep ``previous`` in its history.
        Raises KeyError if there is no such tweet (``tweet.user_id`` must be its author)."""
        with self._reaching():
            for _ in range(EDIT_ATTEMPTS):
                current = await self._read_tweet(tweet.user_id, tweet.tweet_id)
                if current is None:
                    raise KeyError(tweet.tweet_id)
                old, edits = current
                version = edits + 1
                await self._client.put_item(
                    TableName=self.tables.history,
                    Item=_version_item(tweet.tweet_id, version, previous),
                )
                old_tags, new_tags = _tags(old), _tags(tweet)
                if new_tags - old_tags and not await self._claim_tags(
                    tweet.tweet_id, new_tags - old_tags
                ):
                    raise KeyError(tweet.tweet_id)  # deleted meanwhile
                await self._write_batch(
                    self.tables.tags,
                    [{"PutRequest": {"Item": i}} for i in _tag_items(tweet, new_tags - old_tags)],
                )
                try:
                    await self._client.put_item(
                        TableName=self.tables.tweets,
                        Item=_tweet_item(tweet, edits=version),
                        ConditionExpression="edits = :edits",
                        ExpressionAttributeValues={":edits": _n(edits)},
                    )
                except botocore.exceptions.ClientError as exc:
                    if _code(exc) != "ConditionalCheckFailedException":
                        raise
                    continue  # deleted or edited meanwhile: read again
                await self._write_batch(
                    self.tables.tags,
                    [
                        {"DeleteRequest": {"Key": _tag_key(tag, tweet.tweet_id)}}
                        for tag in old_tags - new_tags
                    ],
                )
                return
            raise StoreError(
                f"tweet {tweet.tweet_id} kept changing under {EDIT_ATTEMPTS} edit attempts"
            )

    async def delete(self, tweet_id: int) -> Tweet | None:
        """Remove the tweet, its history and its index items; return what was removed (None
        if there was no such tweet, after clearing whatever an interrupted write left)."""
        with self._reaching():
            claim = await self._client.get_item(
                TableName=self.tables.ids, Key=_id_key(tweet_id), ConsistentRead=True
            )
            if "Item" not in claim:
                return None
            user_id = int(claim["Item"]["user_id"]["N"])
            removed = await self._client.delete_item(
                TableName=self.tables.tweets,
                Key=_tweet_key(user_id, tweet_id),
                ReturnValues="ALL_OLD",
            )
            tweet = _tweet(removed["Attributes"]) if "Attributes" in removed else None
            tags = _claimed_tags(claim["Item"]) | (_tags(tweet) if tweet else set())
            await self._write_batch(
                self.tables.tags,
                [{"DeleteRequest": {"Key": _tag_key(tag, tweet_id)}} for tag in sorted(tags)],
            )
            versions = await self._query(
                TableName=self.tables.history,
                KeyConditionExpression="tweet_id = :id",
                ExpressionAttributeValues={":id": _n(tweet_id)},
                ProjectionExpression="tweet_id, n",
                ConsistentRead=True,
            )
            await self._write_batch(
                self.tables.history, [{"DeleteRequest": {"Key": v}} for v in versions]
            )
            try:
                await self._client.delete_item(
                    TableName=self.tables.ids,
                    Key=_id_key(tweet_id),
                    ConditionExpression="user_id = :user",
                    ExpressionAttributeValues={":user": _n(user_id)},
                )
            except botocore.exceptions.ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise
            return tweet

    # Reads

    async def get(self, tweet_id: int) -> Tweet | None:
        return (await self.get_many([tweet_id])).get(tweet_id)

    async def get_many(self, tweet_ids: Iterable[int]) -> dict[int, Tweet]:
        """The tweets that exist among ``tweet_ids``: a BatchGetItem on ``tweet_ids`` for
        their authors, then one on ``tweets``, per 100 ids (batches run concurrently)."""
        wanted = list(dict.fromkeys(tweet_ids))
        if not wanted:
            return {}
        with self._reaching():
            claims = await self._batch_get(
                self.tables.ids, [_id_key(i) for i in wanted], projection="tweet_id, user_id"
            )
            keys = [_tweet_key(int(c["user_id"]["N"]), int(c["tweet_id"]["N"])) for c in claims]
            items = await self._batch_get(self.tables.tweets, keys)
        tweets = (_tweet(item) for item in items)
        return {t.tweet_id: t for t in tweets}

    async def history(self, tweet_id: int) -> list[TweetVersion]:
        """Earlier versions, oldest first ([] once the tweet is deleted)."""
        with self._reaching():
            claim = await self._client.get_item(
                TableName=self.tables.ids, Key=_id_key(tweet_id), ConsistentRead=True
            )
            if "Item" not in claim:
                return []
            current = await self._read_tweet(int(claim["Item"]["user_id"]["N"]), tweet_id)
            if current is None or current[1] == 0:
                return []
            items = await self._query(
                TableName=self.tables.history,
                KeyConditionExpression="tweet_id = :id AND n <= :edits",
                ExpressionAttributeValues={":id": _n(tweet_id), ":edits": _n(current[1])},
                ConsistentRead=True,
            )
        return [_version(item) for item in items]

    async def by_user(
        self, user_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        with self._reaching():
            items = await self._newest(
                {"TableName": self.tables.tweets, "ConsistentRead": True},
                ("user_id", _n(user_id)),
                limit,
                max_id,
                since_id,
            )
        return [_tweet(item) for item in items]

    async def replies(
        self, tweet_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        with self._reaching():
            items = await self._newest(
                {"TableName": self.tables.tweets, "IndexName": "by_reply"},
                ("reply_to", _n(tweet_id)),
                limit,
                max_id,
                since_id,
            )
        return [_tweet(item) for item in items]

    async def by_hashtag(
        self, tag: str, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        """Tweets carrying ``#tag`` (any case), newest first: tag items, newest first, each
        kept only if its tweet still carries the tag (see the module's docstring)."""
        tag = tag.casefold()
        found: list[Tweet] = []
        with self._reaching():
            while len(found) < limit:
                wanted = limit - len(found)
                entries = await self._newest(
                    {"TableName": self.tables.tags, "ConsistentRead": True},
                    ("tag", {"S": tag}),
                    wanted,
                    max_id,
                    since_id,
                )
                keys = [
                    _tweet_key(int(e["user_id"]["N"]), int(e["tweet_id"]["N"])) for e in entries
                ]
                items = await self._batch_get(self.tables.tweets, keys)
                tweets = {t.tweet_id: t for t in map(_tweet, items)}
                for entry in entries:
                    tweet = tweets.get(int(entry["tweet_id"]["N"]))
                    if tweet is not None and tag in _tags(tweet):
                        found.append(tweet)
                if len(entries) < wanted:
                    break  # no older tag items
                max_id = int(entries[-1]["tweet_id"]["N"]) - 1
        return found[:limit]

    async def tweet_counts(self, user_ids: Iterable[int]) -> dict[int, int]:
        """Per user, a ``Select=COUNT`` Query on ``tweets`` (consistent, so exact)."""
        with self._reaching():
            return await self._counts(
                user_ids, {"TableName": self.tables.tweets, "ConsistentRead": True}, "user_id"
            )

    async def reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        """Per tweet, a ``Select=COUNT`` Query on the ``by_reply`` index."""
        with self._reaching():
            return await self._counts(
                tweet_ids, {"TableName": self.tables.tweets, "IndexName": "by_reply"}, "reply_to"
            )

    # Helpers

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Turn botocore's "could not reach it" errors into `BackendUnavailable`."""
        try:
            yield
        except (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError) as exc:
            raise BackendUnavailable("dynamodb", self._address, str(exc)) from exc

    async def _claim_id(self, tweet: Tweet) -> None:
        """Take ``tweet_ids`` for ``tweet``; a claim with no tweet behind it (a put that
        stopped halfway) is taken over. Raises ValueError if the id is a visible tweet's."""
        claim = _id_item(tweet, _tags(tweet))
        try:
            await self._client.put_item(
                TableName=self.tables.ids,
                Item=claim,
                ConditionExpression="attribute_not_exists(tweet_id)",
            )
            return
        except botocore.exceptions.ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise
        existing = await self._client.get_item(
            TableName=self.tables.ids, Key=_id_key(tweet.tweet_id), ConsistentRead=True
        )
        if "Item" in existing:
            owner = int(existing["Item"]["user_id"]["N"])
            if await self._read_tweet(owner, tweet.tweet_id) is not None:
                raise ValueError(f"tweet {tweet.tweet_id} exists already")
            # Keep the tags the stopped put listed: their items may be there.
            claim = _id_item(tweet, _tags(tweet) | _claimed_tags(existing["Item"]))
            condition = "attribute_not_exists(tweet_id) OR user_id = :owner"
            values = {":owner": _n(owner)}
        else:  # deleted meanwhile
            condition, values = "attribute_not_exists(tweet_id)", {}
        try:
            await self._client.put_item(
                TableName=self.tables.ids,
                Item=claim,
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                raise ValueError(f"tweet {tweet.tweet_id} is being written already") from None
            raise

    async def _claim_tags(self, tweet_id: int, tags: set[str]) -> bool:
        """Add ``tags`` to the id's claim before their tag items are written (so a delete
        finds them); False if the claim is gone (the tweet was deleted)."""
        try:
            await self._client.update_item(
                TableName=self.tables.ids,
                Key=_id_key(tweet_id),
                UpdateExpression="ADD tags :tags",
                ConditionExpression="attribute_exists(tweet_id)",
                ExpressionAttributeValues={":tags": {"SS": sorted(tags)}},
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def _read_tweet(self, user_id: int, tweet_id: int) -> tuple[Tweet, int] | None:
        """The tweet and its count of edits, read consistently; None if it is not there."""
        found = await self._client.get_item(
            TableName=self.tables.tweets, Key=_tweet_key(user_id, tweet_id), ConsistentRead=True
        )
        item = found.get("Item")
        if item is None:
            return None
        return _tweet(item), int(item.get("edits", {"N": "0"})["N"])

    async def _newest(
        self,
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
        return await self._query(
            **source,
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#pk": partition[0]},
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            limit=limit,
        )

    async def _query(self, *, limit: int | None = None, **request: Any) -> list[Item]:
        """A Query's items across its pages, up to ``limit``."""
        items: list[Item] = []
        while True:
            if limit is not None:
                request["Limit"] = limit - len(items)
            page = await self._client.query(**request)
            items.extend(page["Items"])
            last = page.get("LastEvaluatedKey")
            if last is None or (limit is not None and len(items) >= limit):
                return items
            request["ExclusiveStartKey"] = last

    async def _counts(
        self, ids: Iterable[int], source: dict[str, Any], partition: str
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
                page = await self._client.query(**request)
                total += page["Count"]
                if "LastEvaluatedKey" not in page:
                    return total
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        counted = await _concurrently([lambda key=key: count(key) for key in wanted])
        return dict(zip(wanted, counted, strict=True))

    async def _batch_get(
        self, table: str, keys: list[Item], *, projection: str | None = None
    ) -> list[Item]:
        """The items found among ``keys`` (any order): BatchGetItem per 100 keys, run
        concurrently, retrying unprocessed keys with backoff."""
        options: dict[str, Any] = {"ConsistentRead": True}
        if projection is not None:
            options["ProjectionExpression"] = projection

        async def one_batch(batch: list[Item]) -> list[Item]:
            found: list[Item] = []
            request = {table: {"Keys": batch, **options}}
            for attempt in range(BATCH_ATTEMPTS):
                answer = await self._client.batch_get_item(RequestItems=request)
                found.extend(answer["Responses"].get(table, ()))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    return found
                await _backoff(attempt)
            raise self._throttled("BatchGetItem", table)

        batches = [keys[i : i + BATCH_GET] for i in range(0, len(keys), BATCH_GET)]
        if not batches:
            return []
        if len(batches) == 1:
            return await one_batch(batches[0])
        results = await _concurrently([lambda b=b: one_batch(b) for b in batches])
        return [item for result in results for item in result]

    async def _write_batch(self, table: str, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem per 25 requests, retrying unprocessed ones with backoff."""
        for start in range(0, len(requests), BATCH_WRITE):
            pending = {table: requests[start : start + BATCH_WRITE]}
            for attempt in range(BATCH_ATTEMPTS):
                answer = await self._client.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
                await _backoff(attempt)
            else:
                raise self._throttled("BatchWriteItem", table)

    def _throttled(self, operation: str, table: str) -> BackendUnavailable:
        return BackendUnavailable(
            "dynamodb",
            self._address,
            f"{operation} on {table} still had unprocessed items after {BATCH_ATTEMPTS} tries",
        )


async def _concurrently(calls: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
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


# The items. Numbers are DynamoDB N (strings of digits); datetimes ISO 8601 strings, which
# round-trip exactly (microseconds and offset); empty and absent fields are left out.


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _id_key(tweet_id: int) -> Item:
    return {"tweet_id": _n(tweet_id)}


def _tweet_key(user_id: int, tweet_id: int) -> Item:
    return {"user_id": _n(user_id), "tweet_id": _n(tweet_id)}


def _tag_key(tag: str, tweet_id: int) -> Item:
    return {"tag": {"S": tag}, "tweet_id": _n(tweet_id)}


def _id_item(tweet: Tweet, tags: set[str]) -> Item:
    item = {"tweet_id": _n(tweet.tweet_id), "user_id": _n(tweet.user_id)}
    if tags:  # a DynamoDB set cannot be empty
        item["tags"] = {"SS": sorted(tags)}
    return item


def _claimed_tags(claim: Item) -> set[str]:
    return set(claim["tags"]["SS"]) if "tags" in claim else set()


def _tags(tweet: Tweet) -> set[str]:
    return {tag.casefold() for tag in tweet.hashtags}


def _tag_items(tweet: Tweet, tags: Iterable[str] | None = None) -> list[Item]:
    return [
        {**_tag_key(tag, tweet.tweet_id), "user_id": _n(tweet.user_id)}
        for tag in sorted(_tags(tweet) if tags is None else tags)
    ]


def _strings(values: Sequence[str]) -> dict[str, Any]:
    return {"L": [{"S": v} for v in values]}


def _tweet_item(tweet: Tweet, *, edits: int) -> Item:
    item: Item = {
        "user_id": _n(tweet.user_id),
        "tweet_id": _n(tweet.tweet_id),
        "created_at": {"S": tweet.created_at.isoformat()},
        "edits": _n(edits),
    }
    if tweet.content:
        item["content"] = {"S": tweet.content}
    for name in ("media_urls", "hashtags", "mentions", "urls"):
        values = getattr(tweet, name)
        if values:
            item[name] = _strings(values)
    if tweet.reply_to is not None:
        item["reply_to"] = _n(tweet.reply_to)
    if tweet.retweet_of is not None:
        item["retweet_of"] = _n(tweet.retweet_of)
    if tweet.edited_at is not None:
        item["edited_at"] = {"S": tweet.edited_at.isoformat()}
    return item


def _tuple(item: Item, name: str) -> tuple[str, ...]:
    value = item.get(name)
    return tuple(v["S"] for v in value["L"]) if value else ()


def _optional_int(item: Item, name: str) -> int | None:
    value = item.get(name)
    return int(value["N"]) if value else None


def _tweet(item: Item) -> Tweet:
    edited_at = item.get("edited_at")
    return Tweet(
        tweet_id=int(item["tweet_id"]["N"]),
        user_id=int(item["user_id"]["N"]),
        content=item["content"]["S"] if "content" in item else "",
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        media_urls=_tuple(item, "media_urls"),
        hashtags=_tuple(item, "hashtags"),
        mentions=_tuple(item, "mentions"),
        urls=_tuple(item, "urls"),
        reply_to=_optional_int(item, "reply_to"),
        retweet_of=_optional_int(item, "retweet_of"),
        edited_at=datetime.fromisoformat(edited_at["S"]) if edited_at else None,
    )


def _version_item(tweet_id: int, n: int, version: TweetVersion) -> Item:
    item: Item = {
        "tweet_id": _n(tweet_id),
        "n": _n(n),
        "valid_from": {"S": version.valid_from.isoformat()},
    }
    if version.content:
        item["content"] = {"S": version.content}
    for name in ("hashtags", "mentions", "urls"):
        values = getattr(version, name)
        if values:
            item[name] = _strings(values)
    return item


def _version(item: Item) -> TweetVersion:
    return TweetVersion(
        content=item["content"]["S"] if "content" in item else "",
        hashtags=_tuple(item, "hashtags"),
        mentions=_tuple(item, "mentions"),
        urls=_tuple(item, "urls"),
        valid_from=datetime.fromisoformat(item["valid_from"]["S"]),
    )
