"""Tweets and their history as DynamoDB items (see `storage.dynamodb.tables` for the
tables), and the keys that find them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from chirp.model import Tweet, TweetVersion

Item = dict[str, dict[str, Any]]

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
