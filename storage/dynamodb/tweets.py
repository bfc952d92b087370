"""Tweets in DynamoDB: `DynamoTweetStore`, the `TweetStore` on the tables described in
`storage.dynamodb.tables` (the items are in ``items.py``, the batched and concurrent requests
in ``requests.py``).

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

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.exceptions

from chirp.model import Tweet, TweetVersion
from storage.protocols import BackendUnavailable, StoreError
from storage.timing import timed

from .items import (
    Item,
    _claimed_tags,
    _id_item,
    _id_key,
    _n,
    _tag_items,
    _tag_key,
    _tags,
    _tweet,
    _tweet_item,
    _tweet_key,
    _version,
    _version_item,
)
from .requests import BATCH_ATTEMPTS as BATCH_ATTEMPTS
from .requests import BATCH_GET as BATCH_GET
from .requests import BATCH_WRITE as BATCH_WRITE
from .requests import CONCURRENT_REQUESTS as CONCURRENT_REQUESTS
from .requests import (
    _backoff,
    _code,
    batch_get,
    concurrently,
    counts,
    newest,
    query,
    write_batch,
)
from .tables import TweetTables as TweetTables

#: How many times an edit re-reads and retries when another edit landed in between.
EDIT_ATTEMPTS = 5


@timed
class DynamoTweetStore:
    """A `TweetStore` on DynamoDB (see `storage.dynamodb.tables` for the tables and the
    module's docstring for the order of writes). ``client`` is an aiobotocore DynamoDB client
    owned by the caller (`open_dynamodb`); ``address`` names the endpoint in errors.

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
            versions = await query(
                self._client,
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
            items = await query(
                self._client,
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
            items = await newest(
                self._client,
                {"TableName": self.tables.tweets, "ConsistentRead": True},
                ("user_id", _n(user_id)),
                limit,
                max_id,
                since_id,
            )
        return [_tweet(item) for item in items]

    async def newest_ids(
        self, user_ids: Iterable[int], *, limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        """A Query per user on ``tweets`` projecting only the ids, `CONCURRENT_REQUESTS`
        in flight."""
        wanted = list(dict.fromkeys(user_ids))
        source = {
            "TableName": self.tables.tweets,
            "ConsistentRead": True,
            "ProjectionExpression": "tweet_id",
        }

        async def ids(user_id: int) -> list[int]:
            items = await newest(
                self._client, source, ("user_id", _n(user_id)), limit, max_id, None
            )
            return [int(item["tweet_id"]["N"]) for item in items]

        with self._reaching():
            found = await concurrently([lambda u=u: ids(u) for u in wanted])
        return dict(zip(wanted, found, strict=True))

    async def replies(
        self, tweet_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        with self._reaching():
            items = await newest(
                self._client,
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
                entries = await newest(
                    self._client,
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
            return await counts(
                self._client,
                user_ids,
                {"TableName": self.tables.tweets, "ConsistentRead": True},
                "user_id",
            )

    async def reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        """Per tweet, a ``Select=COUNT`` Query on the ``by_reply`` index."""
        with self._reaching():
            return await counts(
                self._client,
                tweet_ids,
                {"TableName": self.tables.tweets, "IndexName": "by_reply"},
                "reply_to",
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

    # `_backoff` is looked up in this module at each call: tests replace
    # `storage.dynamodb.tweets._backoff` to skip the waits.
    async def _batch_get(
        self, table: str, keys: list[Item], *, projection: str | None = None
    ) -> list[Item]:
        return await batch_get(
            self._client,
            table,
            keys,
            projection=projection,
            address=self._address,
            backoff=_backoff,
        )

    async def _write_batch(self, table: str, requests: list[dict[str, Any]]) -> None:
        await write_batch(self._client, table, requests, address=self._address, backoff=_backoff)
