"""chirp's records and the rules that need nothing but the record. Pure: no I/O, no trio."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chirp.text import USERNAME, TextError, is_web_url, plain

MAX_DISPLAY_NAME = 50
MAX_BIO = 160


@dataclass(frozen=True, slots=True)
class User:
    """An account as stored. Counts are not here: they are derived from the follow graph
    and the tweet store, so they can never drift from the truth."""

    user_id: int
    username: str
    email: str
    display_name: str
    created_at: datetime
    bio: str = ""
    profile_image_url: str | None = None
    verified: bool = False
    region: str = "global"


@dataclass(frozen=True, slots=True)
class Tweet:
    """A tweet as stored. A retweet is a tweet too, with ``retweet_of`` set and no text of
    its own; a reply has ``reply_to``. Engagement counts live with the engagement."""

    tweet_id: int
    user_id: int
    content: str
    created_at: datetime
    media_urls: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()  # usernames that existed when it was posted
    urls: tuple[str, ...] = ()
    reply_to: int | None = None
    retweet_of: int | None = None
    edited_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """Something that happened to ``user_id``'s account or tweets, done by ``actor_id``."""

    notification_id: int  # a Snowflake: orders the inbox and pages it
    user_id: int  # who is told
    kind: str  # mention | reply | like | retweet | follow
    actor_id: int
    tweet_id: int | None
    created_at: datetime
    key: str  # the event it came from: one notification per event and recipient


@dataclass(frozen=True, slots=True)
class NotificationPreferences:
    kinds: frozenset[str] = frozenset({"mention", "reply", "like", "retweet", "follow"})
    only_following: bool = False  # only from accounts the user follows


@dataclass(frozen=True, slots=True)
class Trend:
    """A hashtag in a trending table (the seed's ``trending:{region}``)."""

    hashtag: str
    score: float
    tweet_count: int  # tweets with the tag in the current window
    entered_at: float  # when it entered the table, seconds since the epoch


@dataclass(frozen=True, slots=True)
class TweetVersion:
    """A tweet's text before an edit, kept for ``GET /tweet/{id}/history``."""

    content: str
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]
    urls: tuple[str, ...]
    valid_from: datetime  # when this text was posted or last edited in

    @classmethod
    def current(cls, tweet: Tweet) -> TweetVersion:
        """``tweet``'s text as it stands: the version an edit of it replaces."""
        return cls(
            tweet.content,
            tweet.hashtags,
            tweet.mentions,
            tweet.urls,
            tweet.edited_at or tweet.created_at,
        )


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, newest first, and the cursor for the next (None at the end)."""

    items: list[int]
    next_cursor: int | None


class RuleError(ValueError):
    """A field breaks a rule; the message says which, for the person who sent it."""


def is_username(value: str) -> bool:
    return USERNAME.fullmatch(value) is not None


def username(value: str) -> str:
    if not USERNAME.fullmatch(value):
        raise RuleError("a username is 1 to 15 letters, digits or underscores")
    return value


def display_name(value: str) -> str:
    if len(value) > MAX_DISPLAY_NAME or not value.strip():
        raise RuleError(f"a display name is 1 to {MAX_DISPLAY_NAME} characters")
    return _plain(value, "the display name")


def bio(value: str) -> str:
    if len(value) > MAX_BIO:
        raise RuleError(f"a bio is at most {MAX_BIO} characters")
    return _plain(value, "the bio")


def _plain(value: str, what: str) -> str:
    try:
        return plain(value, what)
    except TextError as exc:
        raise RuleError(str(exc)) from None


def profile_image_url(value: str) -> str:
    if not is_web_url(value):
        raise RuleError("a profile image URL must be an http(s) URL")
    return value
