"""The tweet store's tables in DynamoDB: the seed's table (partition ``user_id``, sorted by
time) and the indexes that serve the rest of `TweetStore` with key lookups and queries, never
a Scan. `DynamoTweetStore` (``tweets.py``) reads and writes them.

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
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


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
