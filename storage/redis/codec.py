"""How records are written into Redis values: msgpack arrays, times in microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack

from chirp.model import Notification, NotificationPreferences, Tweet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def moment(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def encode_tweet(tweet: Tweet) -> bytes:
    return msgpack.packb(
        [
            tweet.tweet_id,
            tweet.user_id,
            tweet.content,
            micros(tweet.created_at),
            tweet.media_urls,
            tweet.hashtags,
            tweet.mentions,
            tweet.urls,
            tweet.reply_to,
            tweet.retweet_of,
            None if tweet.edited_at is None else micros(tweet.edited_at),
        ]
    )


def decode_tweet(data: bytes) -> Tweet:
    (tweet_id, user_id, content, created, media, tags, mentions, urls, reply_to, rt, edited) = (
        msgpack.unpackb(data)
    )
    return Tweet(
        tweet_id,
        user_id,
        content,
        moment(created),
        tuple(media),
        tuple(tags),
        tuple(mentions),
        tuple(urls),
        reply_to,
        rt,
        None if edited is None else moment(edited),
    )


def encode_notification(n: Notification) -> bytes:
    return msgpack.packb(
        [
            n.notification_id,
            n.user_id,
            n.kind,
            n.actor_id,
            n.tweet_id,
            micros(n.created_at),
            n.key,
        ]
    )


def decode_notification(data: bytes) -> Notification:
    notification_id, user_id, kind, actor_id, tweet_id, created, key = msgpack.unpackb(data)
    return Notification(notification_id, user_id, kind, actor_id, tweet_id, moment(created), key)


def encode_preferences(preferences: NotificationPreferences) -> bytes:
    return msgpack.packb([sorted(preferences.kinds), preferences.only_following])


def decode_preferences(data: bytes) -> NotificationPreferences:
    kinds, only_following = msgpack.unpackb(data)
    return NotificationPreferences(frozenset(kinds), only_following)


TWEET_EXT = 1


def pack_cached(value: Any) -> bytes:
    """A cache entry: any msgpack value, tweets included (as an extension type)."""
    return msgpack.packb(value, default=_tweet_ext)


def unpack_cached(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_from_ext)


def _tweet_ext(value: Any) -> msgpack.ExtType:
    if isinstance(value, Tweet):
        return msgpack.ExtType(TWEET_EXT, encode_tweet(value))
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _from_ext(code: int, data: bytes) -> Any:
    if code == TWEET_EXT:
        return decode_tweet(data)
    return msgpack.ExtType(code, data)
