"""The start-up repair of ``--data-dir`` (chirp/repair.py): each kind of write, cut short
by a crash between two of its steps, is completed (its event was announced) or undone
(it never was) before chirp serves again; a write the log refused and the service undid
is left alone; and a repair cut short by a crash is finished by the next.

A crash here: the real write runs through the services on a data directory, and the step
after the one under test raises `Crash` instead of running, which stops the process's
tree without the final snapshot (``tests.test_durable_restart.crashing``); then chirp is
opened again on the directory, which repairs it."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio

from chirp import repair as chirp_repair
from chirp.config import Settings
from chirp.model import Tweet
from chirp.repair import repair_cut_short
from chirp.server import Chirp
from chirp.services.errors import NotFound, Unavailable
from storage.durable import HORIZON
from storage.memory import (
    MemoryEngagementStore,
    MemoryEventLog,
    MemoryGraphStore,
    MemoryTweetStore,
    MemoryUserStore,
)
from storage.protocols import LogUnavailable

from .api.conftest import fast_settings
from .api.waiting import settled
from .test_durable_restart import Crash, crashing, durable_chirp

PASSWORD = "correct horse battery"
#: Topics the log refuses while a test says so (installed below every wrapper of publish).
REFUSING: set[str] = set()


@pytest.fixture(autouse=True)
def refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    real = MemoryEventLog.publish

    async def publish(self: MemoryEventLog, topic: str, key: Any, event: Any) -> Any:
        if topic in REFUSING:
            raise LogUnavailable(f"{topic} is down")
        return await real(self, topic, key, event)

    monkeypatch.setattr(MemoryEventLog, "publish", publish)
    REFUSING.clear()


@pytest.fixture
def settings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Settings:
    caplog.set_level(logging.INFO, logger="chirp.repair")
    return fast_settings(data_dir=tmp_path)


def die_at(target: Any, method: str, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """From now on ``target.method`` kills the process (raises `Crash`) instead of running
    whenever ``when`` says so: the write's steps before it are done, those after never."""
    real = getattr(target, method)

    async def dying(*args: Any, **kwargs: Any) -> Any:
        if when(*args, **kwargs):
            raise Crash
        return await real(*args, **kwargs)

    setattr(target, method, dying)


def die_publishing(chirp: Chirp, wanted: str) -> None:
    die_at(chirp.log, "publish", lambda topic, key, event: topic == wanted)


class Frozen:
    """Steps where several writes stop at once, as a process dying leaves them: each call
    `at` one of them waits, `all_in` is set once ``count`` calls are there, and `die` has
    each raise `Crash` (a write runs shielded from cancellation, so only the step it is
    in failing can end it midway)."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.all_in = trio.Event()
        self._dead = trio.Event()

    def die(self) -> None:
        self._dead.set()

    def at(
        self, target: Any, method: str, when: Callable[..., bool] = lambda *a, **k: True
    ) -> None:
        real = getattr(target, method)

        async def frozen(*args: Any, **kwargs: Any) -> Any:
            if when(*args, **kwargs):
                self.left -= 1
                if not self.left:
                    self.all_in.set()
                await self._dead.wait()
                raise Crash
            return await real(*args, **kwargs)

        setattr(target, method, frozen)


async def crash_in(
    settings: Settings,
    prepare: Callable[[Chirp], Awaitable[dict[str, int]]],
    cut_short: Callable[[Chirp, dict[str, int]], Awaitable[Any]],
) -> dict[str, int]:
    """A first life: ``prepare`` (whole writes; it answers the ids it made), then
    ``cut_short``, which must die midway."""
    made: dict[str, int] = {}
    with crashing():
        async with durable_chirp(settings) as chirp:
            made = await prepare(chirp)
            await cut_short(chirp, made)
            raise AssertionError("the write under test was meant to die")
    return made


def repaired(caplog: pytest.LogCaptureFixture) -> dict[str, int]:
    """The last start-up repair's log line, as counts by kind (``posts undone``…), and the
    journal entries it read (``entries``, from seq ``first``)."""
    lines = [r.getMessage() for r in caplog.records if r.name == "chirp.repair"]
    assert lines, "the repair logged nothing"
    counts, _, read = lines[-1].removeprefix("start-up repair: ").partition(" (")
    found = {name: int(n) for name, n in (item.rsplit(" ", 1) for item in counts.split(", "))}
    entries = re.fullmatch(r"(\d+) journal entries read from entry (\d+)\)", read)
    assert entries, lines[-1]
    return found | {"entries": int(entries[1]), "first": int(entries[2])}


def only(counts: dict[str, int], **expected: int) -> None:
    """Every kind of repair at 0 but ``expected`` (names with underscores for spaces)."""
    wanted = {name.replace("_", " "): n for name, n in expected.items()}
    kinds = {k: v for k, v in counts.items() if k not in ("entries", "first")}
    assert {k: v for k, v in kinds.items() if v} == wanted, counts


async def register(chirp: Chirp, name: str) -> int:
    view, _ = await chirp.services.users.register(
        username=name, email=f"{name}@example.org", password=PASSWORD
    )
    return view.user.user_id


async def people(chirp: Chirp, *names: str) -> dict[str, int]:
    return {name: await register(chirp, name) for name in names}


async def post(chirp: Chirp, user_id: int, content: str, **options: Any) -> int:
    return (await chirp.services.tweets.post(user_id, content, **options)).tweet.tweet_id


async def timeline(chirp: Chirp, user_id: int) -> list[int]:
    views, _ = await chirp.services.tweets.timeline(
        user_id, viewer=None, limit=50, max_id=None, since_id=None
    )
    return [view.tweet.tweet_id for view in views]


async def feed(chirp: Chirp, user_id: int) -> list[int]:
    page = await chirp.services.feeds.read(user_id, limit=50, max_id=None)
    return [view.tweet.tweet_id for view in page.tweets]


async def found(chirp: Chirp, word: str) -> list[int]:
    """Tweet ids search finds for ``word``, once every consumer caught up and committed."""
    await settled(chirp)
    await chirp.system.ref("search.indexer").ask(("commit",))
    response = await chirp.app.test_client().get("/api/v1/search", query_string={"q": word})
    assert response.status_code == 200
    return [int(t["tweet_id"]) for t in (await response.get_json())["results"]]


async def gone(chirp: Chirp, tweet_id: int) -> bool:
    try:
        await chirp.services.tweets.view(tweet_id, viewer=None)
    except NotFound:
        return True
    return False


# --- posts, replies, retweets: stored, never announced -> undone ---------------------------


@pytest.mark.parametrize("reply", [False, True], ids=["post", "reply"])
async def test_a_post_stored_but_never_announced_is_undone(
    settings: Settings, caplog: pytest.LogCaptureFixture, reply: bool
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        await chirp.services.users.follow(made["bo"], made["ana"])
        made["parent"] = await post(chirp, made["bo"], "the parent")
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_publishing(chirp, "tweet_created")  # stored, then the process dies
        await post(chirp, made["ana"], "unheard", reply_to=made["parent"] if reply else None)

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), posts_undone=1)
        assert await timeline(chirp, made["ana"]) == []
        assert await feed(chirp, made["bo"]) == [made["parent"]]
        assert await found(chirp, "unheard") == []
        parent = await chirp.services.tweets.view(made["parent"], viewer=None)
        assert parent.reply_count == 0
        assert (await chirp.services.users.view(made["ana"])).tweet_count == 0


@pytest.mark.parametrize("step", ["put", "publish"])
async def test_a_retweet_cut_short_is_undone(
    settings: Settings, caplog: pytest.LogCaptureFixture, step: str
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "worth sharing")
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        if step == "put":  # recorded in engagement, then dies before storing the retweet
            die_at(chirp.stores.tweets, "put")
        else:  # recorded and stored, then dies before announcing it
            die_publishing(chirp, "retweet_created")
        await chirp.services.tweets.retweet(made["bo"], made["tweet"])

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), retweets_undone=1)
        view = await chirp.services.tweets.view(made["tweet"], viewer=made["bo"])
        assert (view.retweet_count, view.retweeted) == (0, False)
        assert await timeline(chirp, made["bo"]) == []
        # Nothing of it is left to stand in the way of retweeting again.
        again = await chirp.services.tweets.retweet(made["bo"], made["tweet"])
        assert await timeline(chirp, made["bo"]) == [again.tweet.tweet_id]


# --- edits and deletes: announced, not applied -> completed ------------------------------


async def test_an_edit_announced_but_not_applied_is_completed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana")
        made["tweet"] = await post(chirp, made["ana"], "before #old")
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_at(chirp.stores.tweets, "edit")  # announced, then dies before applying it
        await chirp.services.tweets.edit(made["ana"], made["tweet"], "after #new with @ana")

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), edits_completed=1)
        tweet, history = await chirp.services.tweets.history(made["tweet"])
        assert tweet.content == "after #new with @ana"
        assert (tweet.hashtags, tweet.mentions) == (("new",), ("ana",))
        assert [version.content for version in history] == ["before #old"]
        assert await found(chirp, "after") == [made["tweet"]]
        assert await found(chirp, "before") == []
        hashtag, _ = await chirp.services.tweets.hashtag(
            "new", viewer=None, limit=10, max_id=None, since_id=None
        )
        assert [v.tweet.tweet_id for v in hashtag] == [made["tweet"]]


@pytest.mark.parametrize("step", ["delete", "forget_tweet"])
async def test_a_delete_announced_but_not_applied_is_completed(
    settings: Settings, caplog: pytest.LogCaptureFixture, step: str
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        await chirp.services.users.follow(made["bo"], made["ana"])
        made["tweet"] = await post(chirp, made["ana"], "doomed words")
        await chirp.services.tweets.like(made["bo"], made["tweet"])
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        # Announced, then dies before deleting it, or after, before dropping its likes.
        target = chirp.stores.tweets if step == "delete" else chirp.stores.engagement
        die_at(target, step)
        await chirp.services.tweets.delete(made["ana"], made["tweet"])

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), deletes_completed=1)
        assert await gone(chirp, made["tweet"])
        assert await timeline(chirp, made["ana"]) == []
        assert await feed(chirp, made["bo"]) == []
        assert await found(chirp, "doomed") == []
        assert await chirp.stores.engagement.counts([made["tweet"]]) == {made["tweet"]: (0, 0)}


async def test_a_delete_cut_short_between_a_retweet_and_the_tweet_completes_what_it_announced(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Retweets go first, each announced then applied: the crash after the retweet's
    deletion was announced and applied, but before its record was dropped and before the
    tweet's own deletion was announced. The retweet's deletion is finished; the tweet,
    never announced deleted, stays whole (a retry deletes it)."""

    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "shared then deleted")
        made["retweet"] = (
            await chirp.services.tweets.retweet(made["bo"], made["tweet"])
        ).tweet.tweet_id
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_at(chirp.stores.engagement, "unretweet")
        await chirp.services.tweets.delete(made["ana"], made["tweet"])

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), deletes_completed=1)
        assert await gone(chirp, made["retweet"])
        view = await chirp.services.tweets.view(made["tweet"], viewer=made["bo"])
        assert (view.retweet_count, view.retweeted) == (0, False)
        assert await found(chirp, "shared") == [made["tweet"]]
        await chirp.services.tweets.delete(made["ana"], made["tweet"])  # the retry
        assert await gone(chirp, made["tweet"])


# --- likes and follows: changed, never announced -> set back -----------------------------


@pytest.mark.parametrize("verb", ["like", "unlike"])
async def test_a_like_or_unlike_never_announced_is_set_back(
    settings: Settings, caplog: pytest.LogCaptureFixture, verb: str
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "likeable")
        if verb == "unlike":
            await chirp.services.tweets.like(made["bo"], made["tweet"])
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_publishing(chirp, "like_added" if verb == "like" else "like_removed")
        await getattr(chirp.services.tweets, verb)(made["bo"], made["tweet"])

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), likes_undone=1)
        view = await chirp.services.tweets.view(made["tweet"], viewer=made["bo"])
        was_liked = verb == "unlike"
        assert (view.liked, view.like_count) == (was_liked, int(was_liked))


@pytest.mark.parametrize("verb", ["follow", "unfollow"])
async def test_a_follow_or_unfollow_never_announced_is_set_back(
    settings: Settings, caplog: pytest.LogCaptureFixture, verb: str
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "for followers")
        if verb == "unfollow":
            await chirp.services.users.follow(made["bo"], made["ana"])
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_publishing(chirp, "user_followed" if verb == "follow" else "user_unfollowed")
        await getattr(chirp.services.users, verb)(made["bo"], made["ana"])

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), follows_undone=1)
        was_following = verb == "unfollow"
        relationship = await chirp.services.users.relationship(made["bo"], made["ana"])
        assert relationship["following"] is was_following
        assert (await chirp.services.users.view(made["ana"])).follower_count == was_following
        expected = [made["tweet"]] if was_following else []
        assert await feed(chirp, made["bo"]) == expected


# --- accounts: a sign-up never announced -> undone; a profile announced -> completed -----


async def test_a_sign_up_never_announced_is_undone(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        return await people(chirp, "ana")

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_publishing(chirp, "user_changed")  # created, then dies before announcing it
        await register(chirp, "cy")

    await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), sign_ups_undone=1)
        assert await chirp.stores.users.find("cy") is None
        assert await chirp.stores.users.find("ana") is not None
        await register(chirp, "cy")  # the name is free again


async def test_a_profile_change_announced_but_not_applied_is_completed(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    changes = {
        "display_name": "Ana B",
        "bio": "gardens",
        "profile_image_url": "https://example.org/ana.png",
        "region": "uk",
    }

    async def prepare(chirp: Chirp) -> dict[str, int]:
        return await people(chirp, "ana")

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        die_at(chirp.stores.users, "update_profile")  # announced, then dies
        await chirp.services.users.update_profile(made["ana"], **changes)

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), profiles_completed=1)
        user = (await chirp.services.users.view(made["ana"])).user
        assert {name: getattr(user, name) for name in changes} == changes


# --- what the repair must leave alone ----------------------------------------------------


@pytest.mark.parametrize("verb", ["like", "unlike", "follow", "unfollow"])
async def test_a_change_the_log_refused_and_the_service_undid_is_left_alone(
    settings: Settings, caplog: pytest.LogCaptureFixture, verb: str
) -> None:
    """Refused (503) and undone whole before the crash: the undo is the last change in the
    journal and no event follows it, as for a change in flight, but the refusal note
    before it says it puts back what the log said."""
    topic = {
        "like": "like_added",
        "unlike": "like_removed",
        "follow": "user_followed",
        "unfollow": "user_unfollowed",
    }[verb]
    tweets = verb in ("like", "unlike")

    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "contested")
        if verb == "unlike":
            await chirp.services.tweets.like(made["bo"], made["tweet"])
        if verb == "unfollow":
            await chirp.services.users.follow(made["bo"], made["ana"])
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        service = chirp.services.tweets if tweets else chirp.services.users
        other = made["tweet"] if tweets else made["ana"]
        REFUSING.add(topic)
        with pytest.raises(Unavailable):
            await getattr(service, verb)(made["bo"], other)
        raise Crash

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog))
        before = verb in ("unlike", "unfollow")
        if tweets:
            view = await chirp.services.tweets.view(made["tweet"], viewer=made["bo"])
            assert view.liked is before
        else:
            following = await chirp.services.users.relationship(made["bo"], made["ana"])
            assert following["following"] is before


async def test_a_like_refused_then_retried_and_cut_short_is_undone(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "try again")
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        REFUSING.add("like_added")
        with pytest.raises(Unavailable):
            await chirp.services.tweets.like(made["bo"], made["tweet"])
        REFUSING.clear()
        die_publishing(chirp, "like_added")
        await chirp.services.tweets.like(made["bo"], made["tweet"])

    made = await crash_in(settings, prepare, cut_short)
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), likes_undone=1)
        view = await chirp.services.tweets.view(made["tweet"], viewer=made["bo"])
        assert (view.liked, view.like_count) == (False, 0)


async def test_a_like_or_follow_that_changed_nothing_is_none_in_flight(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Liking (following) again changes nothing and journals nothing, so the repair cannot
    take it for a change whose event never came, even with the like it repeats announced
    before the journal the repair reads (here: before the last start-up's repair)."""
    async with durable_chirp(settings) as chirp:
        made = await people(chirp, "ana", "bo")
        made["tweet"] = await post(chirp, made["ana"], "liked once")
        await chirp.services.tweets.like(made["bo"], made["tweet"])
        await chirp.services.users.follow(made["bo"], made["ana"])
    with crashing():
        async with durable_chirp(settings) as chirp:
            await settled(chirp)
            before = chirp.stores.durable.journal.next_seq
            await chirp.services.tweets.like(made["bo"], made["tweet"])
            await chirp.services.users.follow(made["bo"], made["ana"])
            await chirp.stores.durable.settled()
            journaled = chirp.stores.durable.journal.replay(before - 1)
            assert not [e for _, e in journaled if e[0] in ("engagement", "graph")]
            raise Crash
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog))
        view = await chirp.services.tweets.view(made["tweet"], viewer=made["bo"])
        assert (view.liked, view.like_count) == (True, 1)
        assert (await chirp.services.users.relationship(made["bo"], made["ana"]))["following"]


# --- the window's edge: likes and follows whose earlier steps it does not hold ----------


def like_entry(verb: str, user_id: int = 1, tweet_id: int = 7) -> list[Any]:
    return ["engagement", verb, [user_id, tweet_id], {}]


def refused_entry(topic: str, user_id: int = 1, tweet_id: int = 7) -> list[Any]:
    return [HORIZON, "refused", [topic, tweet_id, {"user_id": user_id, "tweet_id": tweet_id}], {}]


def event_entry(topic: str, user_id: int = 1, tweet_id: int = 7) -> list[Any]:
    payload = msgpack.packb({"user_id": user_id, "tweet_id": tweet_id})
    return ["log", "append_at", [topic, 0, str(tweet_id), payload, 1.0], {}]


@pytest.mark.parametrize(
    ("liked", "window", "after"),
    [
        # A like refused before the window began: its note and its undo are all it holds.
        (False, [refused_entry("like_added"), like_entry("unlike")], False),
        # The same, the process dead between the note and the undo.
        (True, [refused_entry("like_added")], False),
        # An unlike refused, undone by a like: the like puts back what the log said.
        (True, [refused_entry("like_removed"), like_entry("like")], True),
        # A like announced before the window; an unlike in flight.
        (False, [like_entry("unlike")], True),
        # A like in flight, the one before it announced unliked inside the window.
        (True, [like_entry("unlike"), event_entry("like_removed"), like_entry("like")], False),
        # Announced, then a like refused and undone, then another in flight.
        (
            True,
            [
                event_entry("like_removed"),
                like_entry("like"),
                refused_entry("like_added"),
                like_entry("unlike"),
                like_entry("like"),
            ],
            False,
        ),
    ],
)
async def test_a_like_is_set_to_what_the_log_last_said_whatever_the_window_begins_with(
    liked: bool, window: list[list[Any]], after: bool
) -> None:
    tweets, engagement = MemoryTweetStore(), MemoryEngagementStore()
    await tweets.put(Tweet(7, 2, "a tweet", datetime(2026, 1, 1, tzinfo=UTC)))
    if liked:
        await engagement.like(1, 7)
    done = await repair_cut_short(
        iter(enumerate(window, start=100)),
        tweets=tweets,
        engagement=engagement,
        graph=MemoryGraphStore(),
        users=MemoryUserStore(),
    )
    assert bool(await engagement.liked(1, [7])) is after
    assert done.likes_undone == (liked != after)


# --- idempotence ---------------------------------------------------------------------------


async def test_a_crash_during_the_repair_and_the_next_repair_finish_the_job(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def prepare(chirp: Chirp) -> dict[str, int]:
        made = await people(chirp, "ana", "bo")
        made["edited"] = await post(chirp, made["ana"], "first draft")
        return made

    async def cut_short(chirp: Chirp, made: dict[str, int]) -> None:
        # Three writes in flight when the process dies: two posts stored, an edit announced.
        frozen = Frozen(3)
        frozen.at(chirp.log, "publish", lambda topic, key, event: topic == "tweet_created")
        frozen.at(chirp.stores.tweets, "edit")
        async with trio.open_nursery() as nursery:
            nursery.start_soon(post, chirp, made["ana"], "lost one")
            nursery.start_soon(post, chirp, made["bo"], "lost two")
            nursery.start_soon(chirp.services.tweets.edit, made["ana"], made["edited"], "final")
            await frozen.all_in.wait()
            frozen.die()

    made = await crash_in(settings, prepare, cut_short)

    async def dies(*args: Any, **kwargs: Any) -> None:
        raise Crash

    # The second life dies in its repair: the posts undone and journaled, the edit not yet.
    with monkeypatch.context() as patch:
        patch.setattr(chirp_repair, "_complete_edits", dies)
        with crashing():
            async with durable_chirp(settings):
                raise AssertionError("the repair was meant to die")
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog), edits_completed=1)  # the posts were undone already
        assert await timeline(chirp, made["ana"]) == [made["edited"]]
        assert await timeline(chirp, made["bo"]) == []
        tweet, _ = await chirp.services.tweets.history(made["edited"])
        assert tweet.content == "final"
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog))  # and again: nothing more to do
        assert await timeline(chirp, made["ana"]) == [made["edited"]]


async def test_a_clean_restart_repairs_nothing_and_reads_only_what_came_after_the_last_repair(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with durable_chirp(settings) as chirp:
        made = await people(chirp, "ana", "bo")
        await post(chirp, made["ana"], "whole")
        await chirp.services.tweets.like(made["bo"], (await timeline(chirp, made["ana"]))[0])
        horizon = chirp.stores.durable.horizon
        assert horizon > 0, "the start-up's repair cleared everything before it"
    async with durable_chirp(settings) as chirp:
        only(repaired(caplog))
        record = [r for r in caplog.records if r.name == "chirp.repair"][-1].getMessage()
        first = int(record.rsplit("from entry ", 1)[1].rstrip(")"))
        assert first > horizon, record
        assert len(await timeline(chirp, made["ana"])) == 1
