"""How records look in JSON: the field names are part of the API."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from chirp.services.tweets import TweetView
from chirp.services.users import UserView


@functools.lru_cache(maxsize=1 << 16)
def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC, to the millisecond, with a Z. Remembered: a feed page formats a
    hundred tweets' times, most of them on every read."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_json(view: UserView, *, private: bool = False) -> dict[str, Any]:
    """A user; ``private`` adds what only its owner may see (the email)."""
    user = view.user
    body: dict[str, Any] = {
        "user_id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "profile_image_url": user.profile_image_url,
        "follower_count": view.follower_count,
        "following_count": view.following_count,
        "tweet_count": view.tweet_count,
        "verified": user.verified,
        "region": user.region,
        "created_at": timestamp(user.created_at),
    }
    if private:
        body["email"] = user.email
    return body


def tweet_json(view: TweetView) -> dict[str, Any]:
    """A tweet. Ids are strings: JavaScript numbers lose integers above 2**53."""
    tweet, author = view.tweet, view.author
    return {
        "tweet_id": str(tweet.tweet_id),
        "user_id": tweet.user_id,
        "author": {
            "user_id": author.user_id,
            "username": author.username,
            "display_name": author.display_name,
            "verified": author.verified,
            "profile_image_url": author.profile_image_url,
        },
        "content": tweet.content,
        "media_urls": list(tweet.media_urls),
        "hashtags": list(tweet.hashtags),
        "mentions": list(tweet.mentions),
        "urls": list(tweet.urls),
        "like_count": view.like_count,
        "retweet_count": view.retweet_count,
        "reply_count": view.reply_count,
        "is_reply": tweet.reply_to is not None,
        "reply_to_tweet_id": None if tweet.reply_to is None else str(tweet.reply_to),
        "retweet_of": None if view.retweet_of is None else tweet_json(view.retweet_of),
        "created_at": timestamp(tweet.created_at),
        "edited_at": None if tweet.edited_at is None else timestamp(tweet.edited_at),
        "liked": view.liked,
        "retweeted": view.retweeted,
    }
