"""Start-up repair of the durable embedded mode (``--data-dir``): after a crash, each write
that was in flight is completed or undone before chirp serves, so none is left half done.

Each write (chirp/services/tweets.py, users.py) takes its steps in a fixed order, each
journaled and durable before the next; a crash between two steps leaves:

================  ===========================================  ==================================
write             steps, in order                              half done by a crash, and repaired
================  ===========================================  ==================================
post, reply       store the tweet; publish ``tweet_created``   stored, never announced: deleted
retweet           record it (engagement); store the retweet;   recorded (perhaps stored), never
                  publish ``retweet_created``                  announced: deleted, record dropped
edit              publish ``tweet_edited``; apply it           announced, not applied: applied
delete,           for each retweet of it, then itself:         announced, not (wholly) applied:
unretweet         publish ``tweet_deleted``; delete it; drop   deleted, its likes and retweet
                  its likes and its retweet record             records dropped
like, unlike      change the like; publish ``like_added`` /    changed, never announced: set back
                  ``like_removed``                             to what the log last said
follow, unfollow  change the edge; publish ``user_followed``   changed, never announced: set back
                  / ``user_unfollowed``                        to what the log last said
sign-up           create it; publish ``user_changed``          created, never announced: deleted
profile change    publish ``user_changed``; apply it           announced, not applied: applied
================  ===========================================  ==================================

The rule is the log's: it is what others (fan-out, search, trending, notifications) may
have seen. A step announced is completed; a change the log never took was never
acknowledged, and is undone the way the services undo a write the log refuses (the same
store calls: `TweetService.post` and ``retweet``'s undo, ``_remove`` after its announce,
``edit`` after its announce, the like and follow undos, `UserService.register`'s undo).
A delete is per tweet: one cut short between two of a tweet's retweets leaves the tweet
and its other retweets whole, as a 503 midway does (a retry finishes it). A profile change
is completed as far as its event says (display name and bio; region and image URL where
the event carries them). Caches need nothing: the embedded ones start empty.

Where to look: `storage.durable.DurableStores.repair` hands over the journal entries after
its horizon, which every journaled step of a write in flight at the crash comes after
(`storage.durable.horizon` proves it from ``STEP_LIMIT``), so the repair reads seconds of
journal, never the stores' whole content. Every check below is against the stores as they
are, so running it again (a crash during the repair) changes nothing more.

Likes and follows have no ids: each (user, tweet) or (follower, followee) is set to what
the log last said of it. That is its last event in the window; with none, it is what the
store held before the window's first step for it, the opposite of that step's value: of
its first change (every change journaled is one: no-op calls are not, `UNCHANGED`), or of
the change a refusal note says the log refused (`DurableStores.note_refusals`). A window
begins at a mark, never between a note and the service's undo right after it, so an undo
is never mistaken for a change in flight, even when the refused change came before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import msgpack
import trio

from chirp import text
from chirp.model import Tweet, TweetVersion
from chirp.services.tweet_cache import version_of
from chirp.services.users import utc_now
from storage.durable import HORIZON, Entries
from storage.durable.journaled import Unchanged
from storage.protocols import EngagementStore, GraphStore, TweetStore, UserStore

logger = logging.getLogger("chirp.repair")

#: The longest one of chirp's writes waits between a step being durable and journaling its
#: next: the log's publish timeout (5 s, `storage.memory.MemoryEventLog`) or, while
#: deleting, two cache-node asks (2 s each); three times that, for a loaded machine.
STEP_LIMIT = 15.0


def _is_false(answer: Any) -> bool:
    return answer is False


def _is_none(answer: Any) -> bool:
    return answer is None


#: The answers that say a like, unlike, follow or unfollow changed nothing (the store
#: protocols'): such calls are not journaled, so each one in the journal is a change.
UNCHANGED: dict[str, dict[str, Unchanged]] = {
    "engagement": {"like": _is_false, "unlike": _is_false},
    "graph": {"follow": _is_false, "unfollow": _is_none},
}

_PROFILE = ("display_name", "bio", "profile_image_url", "region")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CHECKPOINT = 10_000  # entries read between checkpoints
_unpack = partial(msgpack.unpackb, strict_map_key=False)

# The like and follow topics, each with what it says: liked (following) or not.
_LIKES = {"like_added": True, "like_removed": False}
_FOLLOWS = {"user_followed": True, "user_unfollowed": False}


@dataclass
class Repaired:
    """What a start-up repair did: writes completed or undone, by kind, and the journal
    entries it read (``first`` the seq of the first, 0 if none)."""

    posts_undone: int = 0
    retweets_undone: int = 0
    edits_completed: int = 0
    deletes_completed: int = 0
    likes_undone: int = 0
    follows_undone: int = 0
    sign_ups_undone: int = 0
    profiles_completed: int = 0
    entries: int = 0
    first: int = 0

    def summary(self) -> str:
        counts = ", ".join(
            f"{field.name.replace('_', ' ')} {getattr(self, field.name)}"
            for field in fields(self)
            if field.name not in ("entries", "first")
        )
        return f"{counts} ({self.entries} journal entries read from entry {self.first})"


@dataclass(frozen=True)
class _Step:
    """One step of a like or follow: a store change, an event, or a refusal note."""

    kind: str  # "change" | "event" | "refused"
    value: bool  # liked (following): as a change leaves it, an event or a refused one says


def announced(steps: list[_Step]) -> bool:
    """What the log last said of one like (or follow), from its steps in the window, in
    order: its last event; else what the store held before the first step, which changed
    it (or, for a refusal note, the change refused did)."""
    for step in reversed(steps):
        if step.kind == "event":
            return step.value
    return not steps[0].value


class _Window:
    """What the journal entries after the horizon say, gathered in one pass."""

    def __init__(self) -> None:
        self.stored: dict[int, Tweet] = {}  # tweets and retweets put
        self.recorded: dict[int, tuple[int, int]] = {}  # retweet id -> (user, original)
        self.announced: set[int] = set()  # tweet_created / retweet_created
        self.edits: dict[int, dict[str, Any]] = {}  # the last tweet_edited, per tweet
        self.deletes: dict[int, dict[str, Any]] = {}
        self.likes: dict[tuple[int, int], list[_Step]] = {}
        self.follows: dict[tuple[int, int], list[_Step]] = {}
        self.sign_ups: dict[str, int] = {}  # casefolded username -> seq of its last create
        self.profiles: dict[int, tuple[int, dict[str, Any]]] = {}  # the last user_changed

    async def read(self, entries: Entries, repaired: Repaired) -> None:
        for seq, (store, method, args, kwargs) in entries:
            if not repaired.entries:
                repaired.first = seq
            repaired.entries += 1
            if repaired.entries % _CHECKPOINT == 0:
                await trio.lowlevel.checkpoint()
            match store, method:
                case "log", "append_at":
                    self._event(seq, args[0], args[3])
                case "tweets", "put":
                    self.stored[args[0].tweet_id] = args[0]
                case "engagement", "retweet":
                    self.recorded[args[2]] = (args[0], args[1])
                case "engagement", ("like" | "unlike"):
                    self._step("like", (args[0], args[1]), _Step("change", method == "like"))
                case "graph", ("follow" | "unfollow"):
                    pair = (args[0], args[1])
                    self._step("follow", pair, _Step("change", method == "follow"))
                case "users", "create":
                    self.sign_ups[kwargs["username"].casefold()] = seq
                case name, "refused" if name == HORIZON:  # a bare name would capture
                    topic, _, event = args
                    if topic in _LIKES or topic in _FOLLOWS:
                        kind, pair, value = _pair_of(topic, event)
                        self._step(kind, pair, _Step("refused", value))

    def _event(self, seq: int, topic: str, payload: bytes) -> None:
        if topic in ("tweet_created", "retweet_created"):
            self.announced.add(_unpack(payload)["tweet_id"])
        elif topic == "tweet_edited":
            event = _unpack(payload)
            self.edits[event["tweet_id"]] = event
        elif topic == "tweet_deleted":
            event = _unpack(payload)
            self.deletes[event["tweet_id"]] = event
        elif topic == "user_changed":
            event = _unpack(payload)
            self.profiles[event["user_id"]] = (seq, event)
        elif topic in _LIKES or topic in _FOLLOWS:
            kind, pair, value = _pair_of(topic, _unpack(payload))
            self._step(kind, pair, _Step("event", value))

    def _step(self, kind: str, pair: tuple[int, int], step: _Step) -> None:
        pairs = self.likes if kind == "like" else self.follows
        pairs.setdefault(pair, []).append(step)


def _pair_of(topic: str, event: dict[str, Any]) -> tuple[str, tuple[int, int], bool]:
    if topic in _LIKES:
        return "like", (event["user_id"], event["tweet_id"]), _LIKES[topic]
    return "follow", (event["follower_id"], event["followee_id"]), _FOLLOWS[topic]


async def repair_cut_short(
    entries: Entries,
    *,
    tweets: TweetStore,
    engagement: EngagementStore,
    graph: GraphStore,
    users: UserStore,
    now: Callable[[], datetime] = utc_now,
) -> Repaired:
    """Complete or undo every write the journal ``entries`` (those after the horizon, from
    `storage.durable.DurableStores.repair`) show cut short, through the stores' own calls,
    and log one line of counts. Idempotent. ``now`` dates an edge put back."""
    window, repaired = _Window(), Repaired()
    await window.read(entries, repaired)
    await _undo_posts(window, repaired, tweets, engagement)
    await _complete_edits(window, repaired, tweets)
    await _complete_deletes(window, repaired, tweets, engagement)
    await _set_back_likes(window, repaired, tweets, engagement)
    await _set_back_follows(window, repaired, graph, now)
    await _undo_sign_ups(window, repaired, users)
    await _complete_profiles(window, repaired, users)
    logger.info("start-up repair: %s", repaired.summary())
    return repaired


async def _undo_posts(
    window: _Window, repaired: Repaired, tweets: TweetStore, engagement: EngagementStore
) -> None:
    """Tweets and retweets stored, or retweets recorded, whose event never came: taken
    back as `TweetService.post` and ``retweet`` take back what the log refuses."""
    recorded = dict(window.recorded)
    for tweet in window.stored.values():
        if tweet.retweet_of is not None:
            recorded.setdefault(tweet.tweet_id, (tweet.user_id, tweet.retweet_of))
        elif tweet.tweet_id not in window.announced and (
            await tweets.get(tweet.tweet_id) is not None
        ):
            await tweets.delete(tweet.tweet_id)
            repaired.posts_undone += 1
    for retweet_id, (user_id, original_id) in recorded.items():
        if retweet_id in window.announced:
            continue
        undone = False
        if await tweets.get(retweet_id) is not None:
            await tweets.delete(retweet_id)
            undone = True
        # Only this retweet's record: a no-op retweet's entry names an id never used.
        if (await engagement.retweeted(user_id, [original_id])).get(original_id) == retweet_id:
            await engagement.unretweet(user_id, original_id)
            undone = True
        repaired.retweets_undone += undone


async def _complete_edits(window: _Window, repaired: Repaired, tweets: TweetStore) -> None:
    """Edits announced and not applied: applied as `TweetService.edit` applies them."""
    for tweet_id, event in window.edits.items():
        if tweet_id in window.deletes:
            continue  # its deletion, announced after, wins
        stored = await tweets.get(tweet_id)
        if stored is None or version_of(stored) >= event["version"]:
            continue
        await tweets.edit(_edited(stored, event), TweetVersion.current(stored))
        repaired.edits_completed += 1


def _edited(stored: Tweet, event: dict[str, Any]) -> Tweet:
    """The tweet as the edit ``event`` announced it: its text and what the service took
    from the text, and the moment whose version the event carries."""
    content = event["content"]
    edited = replace(
        stored,
        content=content,
        hashtags=tuple(event["hashtags"]),
        mentions=tuple(event["mentions"]),
        urls=text.entities(content).urls,
    )
    moment = _EPOCH + timedelta(microseconds=event["version"])
    for nudge in (0, 1, -1):  # a version is taken from a float: it may round either way
        candidate = replace(edited, edited_at=moment + timedelta(microseconds=nudge))
        if version_of(candidate) == event["version"]:
            return candidate
    return replace(edited, edited_at=moment)


async def _complete_deletes(
    window: _Window, repaired: Repaired, tweets: TweetStore, engagement: EngagementStore
) -> None:
    """Deletions announced and not (wholly) applied: finished as `TweetService._remove`
    finishes each after announcing it."""
    for tweet_id, event in window.deletes.items():
        done = False
        if await tweets.get(tweet_id) is not None:
            await tweets.delete(tweet_id)
            done = True
        if any((await engagement.counts([tweet_id]))[tweet_id]):
            await engagement.forget_tweet(tweet_id)
            done = True
        user_id, original_id = event["user_id"], event["retweet_of"]
        if (
            original_id is not None
            and (await engagement.retweeted(user_id, [original_id])).get(original_id) == tweet_id
        ):
            await engagement.unretweet(user_id, original_id)
            done = True
        repaired.deletes_completed += done


async def _set_back_likes(
    window: _Window, repaired: Repaired, tweets: TweetStore, engagement: EngagementStore
) -> None:
    """Likes and unlikes never announced: set back to what the log last said."""
    for (user_id, tweet_id), steps in window.likes.items():
        want = announced(steps)
        if want and await tweets.get(tweet_id) is None:
            continue  # deleted since: its likes went with it
        if bool(await engagement.liked(user_id, [tweet_id])) != want:
            if want:
                await engagement.like(user_id, tweet_id)
            else:
                await engagement.unlike(user_id, tweet_id)
            repaired.likes_undone += 1


async def _set_back_follows(
    window: _Window, repaired: Repaired, graph: GraphStore, now: Callable[[], datetime]
) -> None:
    """Follows and unfollows never announced: set back to what the log last said."""
    for (follower_id, followee_id), steps in window.follows.items():
        want = announced(steps)
        if await graph.is_following(follower_id, followee_id) != want:
            if want:
                await graph.follow(follower_id, followee_id, now())
            else:
                await graph.unfollow(follower_id, followee_id)
            repaired.follows_undone += 1


async def _undo_sign_ups(window: _Window, repaired: Repaired, users: UserStore) -> None:
    """Accounts created whose ``user_changed`` never came: deleted, as
    `UserService.register` deletes one the log refuses (no token was issued for it)."""
    for username, created in window.sign_ups.items():
        user = await users.find(username)
        if user is None:
            continue
        announced_at = window.profiles.get(user.user_id)
        if announced_at is None or announced_at[0] < created:
            await users.delete(user.user_id)
            repaired.sign_ups_undone += 1


async def _complete_profiles(window: _Window, repaired: Repaired, users: UserStore) -> None:
    """Profile changes announced and not applied: the fields the last event carries."""
    for user_id, (_, event) in window.profiles.items():
        user = await users.get(user_id)
        if user is None:
            continue
        changes = {
            name: event[name]
            for name in _PROFILE
            if event.get(name) is not None and getattr(user, name) != event[name]
        }
        if changes:
            await users.update_profile(user_id, **changes)
            repaired.profiles_completed += 1
