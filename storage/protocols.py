"""The store protocols every backend implements; the contract tests run against each."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from chirp.model import (
    Notification,
    NotificationPreferences,
    Page,
    Trend,
    Tweet,
    TweetVersion,
    User,
)
from chirp.ratelimit import Decision


class Record(NamedTuple):
    """One event as a consumer receives it."""

    topic: str
    partition: int
    offset: int
    key: str
    timestamp: float  # seconds since the epoch, set by the log when it appended the event
    value: Any  # the event, decoded from msgpack


class Fetched(NamedTuple):
    """A fetch's records, in offset order within each partition, and for every partition
    polled its retained start and its end (the offset the next append will get): enough for
    a consumer to know its lag without asking again, as a Kafka fetch response carries the
    log start offset and the high watermark."""

    records: list[Record]
    end_offsets: dict[int, int]
    start_offsets: dict[int, int]


class LogError(Exception):
    """Base of the event log's errors."""


class UnknownTopic(LogError, LookupError):
    """The topic is not configured on this log."""


class LogUnavailable(LogError):
    """The event could not be appended (or the read could not be served) now; nothing was
    acknowledged, so the caller may retry."""


class LeaseLost(LogError):
    """This process no longer holds a partition it was consuming for a group (its lease ran
    out unrenewed, or another process holds it now): whatever it was applying may be applied
    again by the new holder, and its commit was refused. The consumer should stop (crash);
    its restart takes whatever partitions are free."""


class GroupMember(Protocol):
    """One member of a consumer group, reading some partitions of one topic: made by
    `EventLog.join`, used by one task at a time (`storage.consumer.Consumer`).

    The loop is ``poll`` → apply → ``commit``: everything ``poll`` returned is delivered
    again (to this member's next incarnation, or to whichever process takes the partition
    over) until it is committed. Each partition's records come in offset order, those
    delivered before and never committed first, so a key's events are applied in order
    across restarts and takeovers.
    """

    @property
    def owned(self) -> frozenset[int]:
        """The partitions this member reads now: all it was given on a log with one
        consumer process, those whose lease this process holds on a shared one."""
        ...

    @property
    def lag(self) -> int:
        """Events of the owned partitions not committed yet (as of the last poll, less what
        was committed since): what waits behind the batch being applied. No I/O."""
        ...

    async def poll(self, *, max_records: int = 500) -> list[Record]:
        """The next records of the owned partitions, at most ``max_records`` in all, shared
        between partitions as `EventLog.fetch` shares them. Waits until there are some.
        Raises `LeaseLost`, `LogUnavailable`."""
        ...

    async def commit(self, records: Sequence[Record]) -> None:
        """Record that ``records`` (the last poll's) are applied: in each partition, every
        record up to the last of them. Raises `LeaseLost` (the commit did not happen),
        `LogUnavailable`."""
        ...

    async def leave(self) -> None:
        """An orderly goodbye: hand the owned partitions back at once, so others need not
        wait for leases to run out. Only after the last ``commit``; a no-op where nothing is
        shared."""
        ...


class EventLog(Protocol):
    """A Kafka-style partitioned log.

    Topics have a fixed number of partitions; an event goes to the partition its key hashes
    to (`storage.partitioning.partition_for`), so events of one key keep their order.
    Consumer groups keep one committed offset per partition: the offset of the next event to
    apply. Consumers commit after applying (at-least-once), so a consumer that dies resumes
    at its group's committed offset and only the uncommitted tail is delivered again.
    """

    @property
    def topics(self) -> Mapping[str, int]:
        """Topic name → partition count."""
        ...

    async def publish(self, topic: str, key: str | int, event: Any) -> tuple[int, int]:
        """Append ``event`` (msgpack-serialisable) and return ``(partition, offset)`` once it
        is appended: that return is the acknowledgement. Raises `UnknownTopic`,
        `LogUnavailable` (not appended; safe to retry), `TypeError` (not serialisable)."""
        ...

    async def fetch(
        self,
        topic: str,
        positions: Mapping[int, int],
        *,
        max_records: int = 500,
        timeout: float | None = None,
    ) -> Fetched:
        """Records from each partition in ``positions`` (partition → next offset wanted), at
        most ``max_records`` in all: an equal share each first, then whatever room is left,
        in the order ``positions`` gives (callers rotate it, as Kafka's consumers do, so no
        partition waits behind the others for ever). Waits up to ``timeout`` seconds (None:
        until there are some; 0: not at all) when there are none yet. A position older than
        the partition's retained start reads from that start (retention removed the rest).
        Raises `ValueError` for a partition that does not exist or a position past the end."""
        ...

    async def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        """Record that ``group`` has applied everything before ``offset`` in ``partition``."""
        ...

    async def committed(self, group: str, topic: str, partition: int) -> int:
        """The group's committed offset for ``partition``; 0 if it never committed."""
        ...

    async def end_offsets(self, topic: str) -> list[int]:
        """Per partition, the offset the next appended event will get."""
        ...

    async def lag(self, group: str, topic: str) -> list[int]:
        """Per partition, how many retained events ``group`` has not committed yet."""
        ...

    def join(
        self, group: str, topic: str, partitions: Sequence[int], *, member: str
    ) -> AbstractAsyncContextManager[GroupMember]:
        """Take part in ``group``'s reading of ``topic`` as ``member`` (a name unique among
        this process's members of the group, the same in every process and across restarts:
        the actor's name), reading ``partitions``, or those of them this process holds when
        several processes share the group. The member starts from the group's committed
        offsets; it stops reading when the context exits. Raises `UnknownTopic`,
        `ValueError` (a partition the topic does not have)."""
        ...


class Broadcast(Protocol):
    """Messages every process of the service hears, the sender included (Redis pub/sub):
    at most once, and only by processes listening when it is sent."""

    async def send(self, message: Any) -> None:
        """Send ``message`` (msgpack-serialisable) to every listener."""
        ...

    def listen(self) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """Listen: once entered, every message sent from then on comes out, in order."""
        ...


class StoreError(Exception):
    """Base of the stores' errors."""


class BackendUnavailable(StoreError):
    """A backend could not be reached (at start-up, or since): ``backend`` names it and
    ``address`` says where it was looked for, without credentials."""

    def __init__(self, backend: str, address: str, reason: str) -> None:
        super().__init__(f"{backend} at {address} is not answering: {reason}")
        self.backend = backend
        self.address = address


class Duplicate(StoreError):
    """A unique field is taken; ``field`` names it (``username``, ``email``)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} is taken")
        self.field = field


class UserStore(Protocol):
    """Accounts (the seed's ``users`` table). Usernames are unique regardless of case,
    emails regardless of case too; both keep the case they were given."""

    async def create(
        self,
        *,
        username: str,
        email: str,
        password_hash: str,
        display_name: str,
        created_at: datetime,
    ) -> User:
        """Store a new account with the next user id. Raises `Duplicate`."""
        ...

    async def get(self, user_id: int) -> User | None: ...

    async def get_many(self, user_ids: Iterable[int]) -> dict[int, User]:
        """The users that exist among ``user_ids``, by id."""
        ...

    async def find(self, username: str) -> User | None:
        """By username, whatever its case."""
        ...

    async def password_hash(self, user_id: int) -> str | None: ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        """Replace the hash (after a login re-hashed it with newer parameters)."""
        ...

    async def delete(self, user_id: int) -> None:
        """Remove the account (a sign-up whose event the log refused is taken back)."""
        ...

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        profile_image_url: str | None = None,
        region: str | None = None,
    ) -> User:
        """Change the fields given (None leaves a field as it is); return the user."""
        ...


class GraphStore(Protocol):
    """Who follows whom (the seed's ``relationships`` table). Lists are newest follow
    first; their cursor is the position of the last edge returned."""

    async def follow(self, follower_id: int, followee_id: int, at: datetime) -> bool:
        """Add the edge; False if it was there already (idempotent)."""
        ...

    async def unfollow(self, follower_id: int, followee_id: int) -> int | None:
        """Remove the edge and answer how many followers the followee has left, counted
        in the same step (two unfollows at once each learn their own count); None if the
        edge was not there (idempotent)."""
        ...

    async def is_following(self, follower_id: int, followee_id: int) -> bool: ...

    async def followers(self, user_id: int, *, limit: int, before: int | None = None) -> Page:
        """Who follows ``user_id``: ids, newest edge first, after cursor ``before``."""
        ...

    async def following(self, user_id: int, *, limit: int, before: int | None = None) -> Page:
        """Whom ``user_id`` follows, the same way."""
        ...

    async def counts(self, user_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Per user: (followers, following)."""
        ...


class TweetStore(Protocol):
    """Tweets (the seed's DynamoDB table: by user and time, by id, by hashtag). Lists are
    newest first, bounded by Snowflake cursors: ``max_id`` (inclusive) and ``since_id``
    (exclusive), as Twitter's API."""

    async def put(self, tweet: Tweet) -> None: ...

    async def get(self, tweet_id: int) -> Tweet | None: ...

    async def get_many(self, tweet_ids: Iterable[int]) -> dict[int, Tweet]: ...

    async def edit(self, tweet: Tweet, previous: TweetVersion) -> None:
        """Replace the tweet with its edited form and keep ``previous`` in its history."""
        ...

    async def history(self, tweet_id: int) -> list[TweetVersion]:
        """Earlier versions, oldest first."""
        ...

    async def delete(self, tweet_id: int) -> Tweet | None:
        """Remove the tweet (and its history); return what was removed."""
        ...

    async def by_user(
        self, user_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]: ...

    async def newest_ids(
        self, user_ids: Iterable[int], *, limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        """Per user (every one asked for is a key, ``[]`` for none), the ids of their newest
        ``limit`` tweets at or under ``max_id``, newest first: what a feed pulls or
        regenerates from, for all the authors at once (a database answers them side by
        side, not one round trip after another)."""
        ...

    async def replies(
        self, tweet_id: int, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]: ...

    async def tweet_counts(self, user_ids: Iterable[int]) -> dict[int, int]:
        """Per user, how many tweets (retweets and replies included) they have."""
        ...

    async def reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]: ...

    async def by_hashtag(
        self, tag: str, *, limit: int, max_id: int | None = None, since_id: int | None = None
    ) -> list[Tweet]:
        """Tweets carrying ``#tag`` (any case), newest first: the seed's hashtag index."""
        ...


class EngagementStore(Protocol):
    """Likes and retweets: one of each per user per tweet. A retweet is remembered with
    the id of the retweet tweet that carries it."""

    async def like(self, user_id: int, tweet_id: int) -> bool:
        """False if it was liked already (idempotent)."""
        ...

    async def unlike(self, user_id: int, tweet_id: int) -> bool: ...

    async def retweet(self, user_id: int, tweet_id: int, retweet_id: int) -> int | None:
        """Record the retweet; if the user had retweeted it already, change nothing and
        return the id of that existing retweet."""
        ...

    async def unretweet(self, user_id: int, tweet_id: int) -> int | None:
        """Forget the retweet; return the id of the retweet tweet, None if there was none."""
        ...

    async def liked(self, user_id: int, tweet_ids: Iterable[int]) -> set[int]: ...

    async def retweeted(self, user_id: int, tweet_ids: Iterable[int]) -> dict[int, int]:
        """Of ``tweet_ids``, those the user retweeted, each to the id of their retweet."""
        ...

    async def counts(self, tweet_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """Per tweet: (likes, retweets)."""
        ...

    async def retweets_of(self, tweet_id: int) -> list[int]:
        """The ids of the retweet tweets that carry ``tweet_id``."""
        ...

    async def forget_tweet(self, tweet_id: int) -> list[int]:
        """Drop every like and retweet of a deleted tweet; return the ids of the retweet
        tweets that carried it, which go too."""
        ...


class RateLimitStore(Protocol):
    """Token buckets by key, decided atomically in the store (a Lua script on Redis), so
    processes sharing the store share the limits."""

    async def acquire(self, key: str, limit: int, period: float, now: float) -> Decision:
        """Take one token from ``key``'s bucket of ``limit`` per ``period`` seconds."""
        ...


class FeedCache(Protocol):
    """The seed's Redis cache cluster: home feeds (``feed:{user_id}``, newest 1,000 tweet
    ids), followed celebrities' recent tweets (``celeb:{user_id}``) and hydrated tweets
    (``tweet:{id}``). Losing any of it loses nothing: feeds are regenerated from the
    tweet store and tweets re-read from it.

    Pushes go only into feeds that exist (Redis ``LPUSHX``): a feed that expired or was
    never built is regenerated whole at its next read, never half-filled by pushes."""

    async def push(self, entries: Iterable[tuple[int, int]]) -> int:
        """Add (user_id, tweet_id) entries to existing feeds; how many were added."""
        ...

    async def remove(self, entries: Iterable[tuple[int, int]]) -> int:
        """Take (user_id, tweet_id) entries out of the feeds holding them."""
        ...

    async def feed(
        self, user_id: int, *, limit: int, max_id: int | None = None
    ) -> list[int] | None:
        """The feed's newest ids (none above ``max_id``), or None when it is not cached.
        A read keeps an inactive user's feed alive for another TTL."""
        ...

    async def store_feed(self, user_id: int, tweet_ids: Iterable[int]) -> None:
        """Replace the feed (after regenerating it)."""
        ...

    async def drop_feed(self, user_id: int) -> None: ...

    async def drop_feeds(self, user_ids: Iterable[int]) -> None: ...

    async def store_celeb(self, author_id: int, tweet_ids: Iterable[int]) -> None:
        """Load a celebrity's recent tweets (merged with any already cached); they live
        a TTL from then."""
        ...

    async def drop_celeb(self, author_id: int) -> None: ...

    async def celeb_push(self, entries: Iterable[tuple[int, int]]) -> None:
        """Add (author_id, tweet_id) entries to the celebrities' cached recent tweets,
        where cached (``LPUSHX``): a list is only ever loaded whole, from the tweet store,
        by `store_celeb`."""
        ...

    async def celeb_remove(self, author_id: int, tweet_id: int) -> None: ...

    async def celeb_recent(
        self, author_ids: Iterable[int], *, limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        """Per author, their newest cached tweet ids, none above ``max_id`` (an author not
        cached: absent)."""
        ...

    async def get_tweets(self, tweet_ids: Iterable[int]) -> dict[int, Any]:
        """The cached tweets among ``tweet_ids``; a deleted tweet's entry is None."""
        ...

    async def put_tweets(self, tweets: Mapping[int, tuple[int, Any]]) -> None:
        """Cache ``{tweet_id: (version, tweet)}``, each only over an older version (an
        equal one is the same copy): a
        reader that filled the cache from a read taken before an edit or a delete cannot
        put its stale copy over the newer one. ``tweet`` None marks it deleted."""
        ...

    async def get_reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        """The cached reply counts among ``tweet_ids`` (one marked changed is absent)."""
        ...

    async def put_reply_counts(self, counts: Mapping[int, tuple[int, int | None]]) -> None:
        """Cache ``{tweet_id: (version, count)}``, each only over an older version, as
        `put_tweets`; a count None marks the replies changed: absent until counted again
        under a newer version. They live as long as cached tweets."""
        ...


class ActivityStore(Protocol):
    """When each user was last active (any authenticated request), coarsely: the fan-out's
    middle tier pushes only to followers active lately."""

    async def touch(self, user_id: int, at: float) -> None:
        """Record activity at ``at`` (seconds since the epoch)."""
        ...

    async def active_since(self, user_ids: Iterable[int], since: float) -> set[int]:
        """Those of ``user_ids`` active at or after ``since``."""
        ...


class TrendStore(Protocol):
    """Trending tables (the seed's ``trending:{region}`` sorted sets) and the hashtag uses
    they are scored from.

    Uses are set per tweet with a version, and only over an older version: events about
    one tweet travel on different topics (created, edited, deleted) and may be applied in
    any order, or twice, and the table still ends where the newest says. A deleted
    tweet's version is above every other, so nothing brings its uses back."""

    async def set_uses(self, table: str, tweets: Iterable[TweetTags]) -> None: ...

    async def uses(self, table: str, since: float) -> dict[str, list[tuple[int, float]]]:
        """Per hashtag, the ``(author_id, at)`` of its uses by tweets posted at or after
        ``since``; what is older is dropped for good."""
        ...

    async def replace(self, table: str, trends: Iterable[Trend]) -> None:
        """The table's trends from now on (the rescored set; a tag left out leaves)."""
        ...

    async def top(self, table: str, limit: int) -> list[Trend]:
        """The highest scores first."""
        ...


#: The version of a deleted tweet: above every other, so nothing brings it back.
DELETED_VERSION = 2**63 - 1


class TweetTags(NamedTuple):
    """What a tweet gives trending: its hashtags, as of ``version``."""

    tweet_id: int
    version: int
    author_id: int
    at: float  # when it was posted, seconds since the epoch
    hashtags: tuple[str, ...]  # () for a deleted tweet
    #: An edit's tags are kept even when there are none, as a deletion's are: an edit read
    #: (from its own topic) before its tweet's creation must still win over it.
    edited: bool = False


class NotificationStore(Protocol):
    """Inboxes (newest first, capped) with a read watermark each, and preferences."""

    async def add(self, notifications: Iterable[Notification]) -> list[Notification]:
        """Store them; those whose ``key`` an inbox already holds are skipped (a
        redelivered event notifies once). Returns the ones added."""
        ...

    async def inbox(
        self, user_id: int, *, limit: int, max_id: int | None = None
    ) -> list[Notification]:
        """Newest first, none above ``max_id``."""
        ...

    async def mark_read(self, user_id: int, up_to_id: int) -> None:
        """Everything up to and including ``up_to_id`` is read (the mark never moves back)."""
        ...

    async def read_up_to(self, user_id: int) -> int: ...

    async def unread(self, user_id: int) -> int: ...

    async def preferences(self, user_id: int) -> NotificationPreferences: ...

    async def set_preferences(self, user_id: int, preferences: NotificationPreferences) -> None: ...
