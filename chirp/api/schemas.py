"""What chirp's responses look like, as models used only to document them.

The responses themselves are built as dicts (`chirp.api.views`, the route modules); these
models are their JSON Schema for the OpenAPI document (`chirp.api.openapi`), and the
fuzz tests hold every response to them. Objects forbid fields they do not list, so a
field added to a response and not here fails those tests rather than going undocumented.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pydantic
from pydantic import ConfigDict, Field

#: Snowflake ids travel as strings (JavaScript numbers lose integers above 2**53).
TweetId = Annotated[str, Field(pattern=r"^[0-9]{1,19}$", examples=["7281932373483520001"])]
#: A page's position for the next request, or null at the end of the list.
Cursor = Annotated[str | None, Field(pattern=r"^[0-9]{1,19}$")]
UserId = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class Closed(pydantic.BaseModel):
    """A response object: exactly these fields."""

    model_config = ConfigDict(extra="forbid")


class Author(Closed):
    """A tweet's author, as much as a tweet shows."""

    user_id: UserId
    username: str
    display_name: str
    verified: bool
    profile_image_url: str | None


class User(Closed):
    """A profile, as anyone sees it."""

    user_id: UserId
    username: str
    display_name: str
    bio: str
    profile_image_url: str | None
    follower_count: Count
    following_count: Count
    tweet_count: Count
    verified: bool
    region: str
    created_at: datetime


class OwnUser(User):
    """A profile as its owner sees it: with the email."""

    email: str


class Tweet(Closed):
    """A tweet; a retweet carries the original in ``retweet_of`` and no text of its own."""

    tweet_id: TweetId
    user_id: UserId
    author: Author
    content: str
    media_urls: list[str]
    hashtags: list[str]
    mentions: list[str] = Field(description="usernames mentioned that existed at posting")
    urls: list[str]
    like_count: Count
    retweet_count: Count
    reply_count: Count
    is_reply: bool
    reply_to_tweet_id: TweetId | None
    retweet_of: Tweet | None
    created_at: datetime
    edited_at: datetime | None
    liked: bool = Field(description="whether the caller likes it (false without a token)")
    retweeted: bool = Field(description="whether the caller retweeted it")


class Tweets(Closed):
    """A page of tweets, newest first."""

    tweets: list[Tweet]
    next_cursor: Cursor = Field(description="`max_id` for the next page; null at the end")


class Users(Closed):
    """A page of users."""

    users: list[User]
    next_cursor: Cursor = Field(description="`cursor` for the next page; null at the end")


class Tokens(Closed):
    """An OAuth2 token response (RFC 6749 §5.1)."""

    access_token: str
    refresh_token: str
    token_type: str = Field(examples=["bearer"])
    expires_in: Count = Field(description="seconds the access token is valid for")


class SignedUp(Tokens):
    """A new account and its first tokens."""

    user: OwnUser


class PostedTweet(Closed):
    """The tweet just posted."""

    tweet_id: TweetId
    created_at: datetime
    tweet: Tweet


class TweetVersion(Closed):
    """A tweet's text as it was from ``valid_from`` until the next edit."""

    content: str
    hashtags: list[str]
    mentions: list[str]
    urls: list[str]
    valid_from: datetime


class TweetHistory(Closed):
    """A tweet's text now, and every earlier version, oldest first."""

    tweet_id: TweetId
    content: str
    edited_at: datetime | None
    versions: list[TweetVersion]


class Following(Closed):
    following: bool


class Relationship(Closed):
    """The caller's relationship to a user: what a Follow button needs."""

    following: bool = Field(description="the caller follows the user")
    followed_by: bool = Field(description="the user follows the caller")


class Trend(Closed):
    hashtag: str
    score: float
    tweet_count: Count
    rank: Annotated[int, Field(ge=1)]


class Trending(Closed):
    """A trending table, highest score first."""

    region: str
    as_of: datetime
    trends: list[Trend]


class TrendingTables(Closed):
    """The tables ``GET /trending?region=`` accepts."""

    regions: list[str]
    categories: list[str]


class HashtagCount(Closed):
    hashtag: str
    tweet_count: Count


class SearchResults(Closed):
    """Results of one kind (``type``): tweets, users, or hashtags with their counts."""

    type: str = Field(examples=["tweets", "users", "hashtags"])
    query: str
    results: list[Tweet] | list[User] | list[HashtagCount]
    next_cursor: Cursor = Field(description="`cursor` for the next page; null at the end")


class NotificationActor(Closed):
    """Who did what a notification tells of."""

    user_id: UserId
    username: str
    display_name: str


class Notification(Closed):
    """A notification; several likes of one tweet come as one, with their ``count``."""

    notification_id: TweetId
    type: str = Field(examples=["mention", "reply", "like", "retweet", "follow"])
    actor: NotificationActor | None = Field(description="null once the account is gone")
    tweet_id: TweetId | None
    created_at: datetime
    read: bool
    group_key: str
    count: Annotated[int, Field(ge=1)]


class Inbox(Closed):
    notifications: list[Notification]
    unread_count: Count
    next_cursor: Cursor = Field(description="`cursor` for the next page; null at the end")


class UnreadCount(Closed):
    unread_count: Count


class NotificationPreferences(Closed):
    """Which kinds of notification the user gets, and whether only from people followed."""

    kinds: list[str]
    only_following: bool


class Health(Closed):
    status: str = Field(examples=["ok"])


class Ready(Closed):
    status: str = Field(examples=["ready"])


class ActorNode(pydantic.BaseModel):
    """An actor in the supervision tree; actors add what they know (lag, sizes)."""

    model_config = ConfigDict(extra="allow")

    name: str
    kind: str
    state: str = Field(examples=["running"])
    restart: str
    restarts: Count
    last_error: str | None
    shutdown_timeout: float | None
    killable: bool
    children: list[ActorNode] = Field(default=[], description="a supervisor's children")


class Killed(Closed):
    name: str
    killed: bool
    restarts: Count


class Dashboard(pydantic.BaseModel):
    """What the /dashboard page draws."""

    model_config = ConfigDict(extra="allow")

    window_seconds: float
    history_seconds: float
    points: list[dict[str, Any]]
    actors: ActorNode


class Problem(pydantic.BaseModel):
    """An error, as RFC 9457 problem details. ``type`` stays ``about:blank``: the status
    says what kind of problem it is, ``detail`` what to do about it."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=["about:blank"])
    title: str
    status: Annotated[int, Field(ge=400, le=599)]
    detail: str


class FieldProblem(Closed):
    field: str = Field(description="dotted path of the field at fault")
    problem: str


class InvalidBody(Problem):
    """A 422: the body's fields at fault, each with what is wrong."""

    errors: list[FieldProblem] = Field(default=[])


class CrashLoop(Closed):
    """A subtree down after its supervisor gave up, backing off before it starts again."""

    name: str
    gave_up: int = Field(description="how many times it has given up since start-up")
    restart_in: float = Field(description="seconds until it starts again")
    last_error: str | None


class NotReady(Problem):
    """A 503 from /readyz: the actors not running yet, and the crash loops among them."""

    unavailable: list[str] = Field(default=[])
    crash_loops: list[CrashLoop] = Field(default=[])
