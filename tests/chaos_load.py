"""A mixed write load over HTTP for the chaos tests, every request written in a ledger, and
the checks of what chirp shows afterwards against the model the ledger implies.

Each request ends one of three ways:

- ok: a 2xx. It happened, and must show exactly once.
- failed: a clear refusal, a 503 problem+json with Retry-After, or a 404 from an
  engagement whose target its author deleted meanwhile. It did not happen: nothing of it
  may show.
- unknown: the connection was cut (a transport error, the HTTP actor killed, the process
  killed). It happened or it did not, either way, but wholly: everywhere or nowhere.

Anything else (a 500, a 503 without Retry-After, any other status, no answer within
`HANG_LIMIT`) is a violation, recorded, and fails the test. Each person sends one request
at a time, so what a person was told is ordered; persons run side by side.

The reference model keeps, per person, each own tweet's acceptable contents and whether it
lives (True), is gone (False) or either (None: a delete whose outcome is unknown), and the
same tri-state for each like, retweet and follow: an ok write sets it, a failed one leaves
it, an unknown one makes it either unless it already was what the write asked for.
"""

from __future__ import annotations

import enum
import itertools
import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import trio

from .api.conftest import SMALL_TOPICS

#: A request not answered within this hangs: a violation (a hang guard, not a bound on
#: how fast chirp is).
HANG_LIMIT = 30.0
#: Views derived from the log (feeds, search, trending, inboxes) converge within this, or
#: the test fails with the last difference.
LIMIT = 60.0
#: How often a view that has not converged yet is asked again.
POLL = 0.05
#: httpx sends a request body from an async generator, which a connection cut mid-send
#: leaves unfinished, and trio warns when it is collected (encode/httpx#3686): the
#: client's doing, not chirp's. For ``pytest.mark.filterwarnings``.
HTTPX_UNFINISHED_BODY = (
    "ignore:Async generator 'httpx._content.ByteStream.__aiter__':ResourceWarning"
)
TAGS = ("garden", "river", "stone")
MIN_AUTHORS = 2
PASSWORD = "correct horse battery"
KINDS = ("post", "edit", "delete", "like", "unlike", "retweet", "unretweet", "follow")
WEIGHTS = (30, 10, 8, 20, 5, 10, 5, 12)
#: What each kind of request answers when it is acknowledged.
ACKNOWLEDGED = {
    "post": 201,
    "edit": 200,
    "delete": 204,
    "like": 200,
    "unlike": 200,
    "retweet": 201,
    "unretweet": 204,
    "follow": 200,
    "unfollow": 200,
}
#: Engagements whose target may be deleted under them: a 404 is a refusal, if it was.
ENGAGEMENTS = ("like", "unlike", "retweet", "unretweet")
#: chirp's settings for these tests, as `Settings` fields: cheap password hashes, rate
#: limits out of the way, trending rescored often, small topics.
FAST = {
    "partitions": SMALL_TOPICS,
    "password_memory_kib": 64,
    "password_time_cost": 1,
    "rate_tweets_per_user": 100_000,
    "rate_calls_per_user": 100_000,
    "rate_requests_per_ip": 1_000_000,
    "trend_rescore_seconds": 0.5,
    "trend_cache_seconds": 0,
    "trend_min_authors": MIN_AUTHORS,
}


def environment(**extra: str) -> dict[str, str]:
    """`FAST` as the ``CHIRP_*`` environment of a ``main.py`` process."""
    values = {
        f"CHIRP_{name.upper()}": json.dumps(value) if isinstance(value, dict) else str(value)
        for name, value in FAST.items()
    }
    return values | extra


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass
class Entry:
    """One request: who sent what, when (on the ledger's clock), and how it ended."""

    person: str
    kind: str
    target: str | int | None = None
    content: str | None = None
    begun: int = -1
    ended: int = -1
    outcome: Outcome = Outcome.UNKNOWN
    status: int | None = None
    detail: str = ""


@dataclass
class Ledger:
    """Every request of the load, in the order they began, and every violation."""

    entries: list[Entry] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    ended: int = 0  # how many requests have ended, however
    _clock: itertools.count[int] = field(default_factory=itertools.count)

    def counts(self) -> Counter[str]:
        return Counter(entry.outcome.value for entry in self.entries)

    async def send(
        self,
        entry: Entry,
        request: Callable[[], Awaitable[httpx.Response]],
    ) -> httpx.Response | None:
        """Send ``request``, write down in ``entry`` when it began and how it ended, and
        return the answer (None if there was none)."""
        entry.begun = next(self._clock)
        self.entries.append(entry)
        response = None
        with trio.move_on_after(HANG_LIMIT) as guard:
            try:
                response = await request()
            except httpx.TransportError as exc:
                entry.detail = f"{type(exc).__name__}: {exc}"
        entry.ended = next(self._clock)
        self.ended += 1
        if guard.cancelled_caught:
            self.violation(entry, f"no answer within {HANG_LIMIT} s")
            return None
        if response is None:
            return None
        entry.status = response.status_code
        if response.status_code == ACKNOWLEDGED[entry.kind]:
            entry.outcome = Outcome.OK
        elif response.status_code == 503:
            if "retry-after" in response.headers and response.headers.get(
                "content-type", ""
            ).startswith("application/problem+json"):
                entry.outcome = Outcome.FAILED
            else:
                self.violation(entry, f"503 without Retry-After or problem+json: {response.text}")
        elif response.status_code == 404 and entry.kind in ENGAGEMENTS:
            entry.outcome = Outcome.FAILED  # verified by `refusals_explained` afterwards
        else:
            self.violation(entry, f"{response.status_code}: {response.text[:300]}")
        if entry.outcome is not Outcome.OK:
            entry.detail = entry.detail or response.text[:300]
        return response

    def history(self, *about: Any) -> list[str]:
        """The requests that named any of ``about`` (tweet ids, user ids, texts), for
        failure messages."""
        return [
            f"#{e.begun}-{e.ended} {e.person} {e.kind} {e.target} {e.content!r}: "
            f"{e.outcome.value} {e.status} {e.detail[:120]}"
            for e in self.entries
            if e.target in about or e.content in about
        ]

    def unknown(self) -> list[str]:
        """The requests whose outcome is unknown, for failure messages."""
        return self.history(
            *{e.target or e.content for e in self.entries if e.outcome is Outcome.UNKNOWN}
        )

    def violation(self, entry: Entry, what: str) -> None:
        self.violations.append(f"{entry.person} {entry.kind} {entry.target}: {what}")

    def refusals_explained(self) -> None:
        """Every 404 an engagement got is explained by a delete of its target (acknowledged
        or unknown) that began before the 404 came back."""
        deletes: dict[Any, list[int]] = {}
        for entry in self.entries:
            if entry.kind == "delete" and entry.outcome is not Outcome.FAILED:
                deletes.setdefault(entry.target, []).append(entry.begun)
        for entry in self.entries:
            if entry.status == 404 and not any(
                begun < entry.ended for begun in deletes.get(entry.target, [])
            ):
                self.violation(entry, "404 for a tweet nobody deleted")


#: What the model knows of a like, retweet, follow or tweet: True, False, or None (either).
Known = bool | None


def after(known: Known, outcome: Outcome, wanted: bool) -> Known:
    """What is known once a write asking for ``wanted`` ended with ``outcome``."""
    if outcome is Outcome.OK:
        return wanted
    if outcome is Outcome.FAILED or known is wanted:
        return known
    return None


@dataclass
class OwnTweet:
    contents: set[str]  # what its text may be: more than one after an unknown edit
    live: Known = True


@dataclass
class Person:
    """One account driven by one task, one request at a time, and what it was told."""

    name: str
    user_id: int
    headers: dict[str, str]
    tweets: dict[str, OwnTweet] = field(default_factory=dict)  # every tweet posted, ok
    unknown_posts: set[str] = field(default_factory=set)  # contents: posted, or not
    attempted: list[str] = field(default_factory=list)  # every text sent, post or edit
    likes: dict[str, Known] = field(default_factory=dict)
    retweets: dict[str, Known] = field(default_factory=dict)
    following: dict[int, Known] = field(default_factory=dict)
    made: int = 0

    def live_tweets(self) -> list[str]:
        """Own tweets surely there (the ones to edit, delete, like and retweet)."""
        return [t for t, own in self.tweets.items() if own.live is True]


P = TypeVar("P")


async def answer(request: Awaitable[httpx.Response], *ok: int) -> Any:
    response = await request
    assert response.status_code in ok, (response.status_code, response.text)
    return response.json() if response.content else None


async def sign_up(
    client: httpx.AsyncClient,
    name: str,
    person: Callable[[str, int, dict[str, str]], P] = Person,  # type: ignore[assignment]
) -> P:
    """A new account, as ``person(name, user_id, headers that act as it)``."""
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
    created = await answer(client.post("/api/v1/users", json=body), 201)
    headers = {"Authorization": f"Bearer {created['access_token']}"}
    return person(name, created["user"]["user_id"], headers)


class Load:
    """Mixed writes by every person at once, each request in ``ledger`` and its outcome in
    the persons' model; up to ``budget`` requests in all, or until ``stop``."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        people: list[Person],
        ledger: Ledger,
        rng: random.Random,
        budget: int,
    ) -> None:
        self.client = client
        self.people = people
        self.ledger = ledger
        self.rng = rng
        self.budget = budget
        self.stop = trio.Event()
        #: Set once ``milestone`` requests have ended (by default, never).
        self.milestone = budget + 1
        self.reached = trio.Event()

    async def run(self, person: Person) -> None:
        while not self.stop.is_set() and len(self.ledger.entries) < self.budget:
            await self.act(person)
            if self.ledger.ended >= self.milestone:
                self.reached.set()

    def content(self, person: Person, kind: str) -> str:
        person.made += 1
        tags = " ".join(f"#{t}" for t in self.rng.sample(TAGS, self.rng.randrange(3)))
        text = f"{kind}{person.user_id}x{person.made} {tags}".strip()
        person.attempted.append(text)
        return text

    async def act(self, person: Person) -> None:
        """One request, chosen at random among what makes sense now."""
        rng = self.rng
        others = [t for p in self.people if p is not person for t in p.live_tweets()]
        mine = person.live_tweets()
        kind = rng.choices(KINDS, weights=WEIGHTS)[0]
        if kind in ("edit", "delete") and not mine or kind in ("like", "retweet") and not others:
            kind = "post"
        held = {"unlike": person.likes, "unretweet": person.retweets}.get(kind)
        if held is not None and not [t for t, known in held.items() if known is not False]:
            kind = "post"
        match kind:
            case "post":
                await self.post(person)
            case "edit":
                await self.edit(person, rng.choice(mine))
            case "delete":
                await self.delete(person, rng.choice(mine))
            case "like" | "retweet":
                await self.engage(person, kind, rng.choice(others))
            case "unlike" | "unretweet":
                assert held is not None
                await self.engage(
                    person, kind, rng.choice(sorted(t for t in held if held[t] is not False))
                )
            case "follow":
                await self.follow(person, rng.choice([p for p in self.people if p is not person]))

    async def post(self, person: Person) -> None:
        content = self.content(person, "w")
        entry = Entry(person.name, "post", content=content)
        response = await self.ledger.send(
            entry,
            lambda: self.client.post(
                "/api/v1/tweet", headers=person.headers, json={"content": content}
            ),
        )
        if entry.outcome is Outcome.OK:
            assert response is not None
            tweet_id = response.json()["tweet_id"]
            entry.target = tweet_id
            person.tweets[tweet_id] = OwnTweet({content})
        elif entry.outcome is Outcome.UNKNOWN:
            person.unknown_posts.add(content)

    async def edit(self, person: Person, tweet_id: str) -> None:
        content = self.content(person, "e")
        entry = Entry(person.name, "edit", tweet_id, content)
        await self.ledger.send(
            entry,
            lambda: self.client.patch(
                f"/api/v1/tweet/{tweet_id}", headers=person.headers, json={"content": content}
            ),
        )
        own = person.tweets[tweet_id]
        if entry.outcome is Outcome.OK:
            own.contents = {content}
        elif entry.outcome is Outcome.UNKNOWN:
            own.contents.add(content)

    async def delete(self, person: Person, tweet_id: str) -> None:
        entry = Entry(person.name, "delete", tweet_id)
        await self.ledger.send(
            entry,
            lambda: self.client.delete(f"/api/v1/tweet/{tweet_id}", headers=person.headers),
        )
        own = person.tweets[tweet_id]
        own.live = after(own.live, entry.outcome, False)
        if entry.outcome is not Outcome.OK:
            # A delete removes the retweets first, each announced on its own: one that
            # stops midway leaves some gone and the tweet there (tweets.TweetService._remove).
            for other in self.people:
                if other.retweets.get(tweet_id):
                    other.retweets[tweet_id] = None

    async def engage(self, person: Person, kind: str, tweet_id: str) -> None:
        verb, wanted = kind.removeprefix("un"), not kind.startswith("un")
        entry = Entry(person.name, kind, tweet_id)
        await self.ledger.send(
            entry,
            lambda: self.client.request(
                "POST" if wanted else "DELETE",
                f"/api/v1/tweet/{tweet_id}/{verb}",
                headers=person.headers,
            ),
        )
        held = person.likes if verb == "like" else person.retweets
        held[tweet_id] = after(held.get(tweet_id, False), entry.outcome, wanted)

    async def follow(self, person: Person, other: Person) -> None:
        known = person.following.get(other.user_id, False)
        wanted = not known if known is not None else self.rng.random() < 0.5
        entry = Entry(person.name, "follow" if wanted else "unfollow", other.user_id)
        await self.ledger.send(
            entry,
            lambda: self.client.request(
                "POST" if wanted else "DELETE",
                f"/api/v1/users/{other.user_id}/follow",
                headers=person.headers,
            ),
        )
        person.following[other.user_id] = after(known, entry.outcome, wanted)


async def eventually(check: Callable[[], Awaitable[None]], limit: float = LIMIT) -> None:
    """Until ``check`` passes (a derived view catches up); its last failure if it never
    does within ``limit``."""
    with trio.move_on_after(limit):
        while True:
            try:
                await check()
                return
            except AssertionError:
                await trio.sleep(POLL)
    await check()


async def pages(
    client: httpx.AsyncClient,
    path: str,
    key: str,
    cursor: str = "max_id",
    headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every item of a paginated list, following ``next_cursor`` to its end."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = await answer(client.get(path, headers=headers or {}, params=params), 200)
        found.extend(page[key])
        if page["next_cursor"] is None:
            return found
        params[cursor] = page["next_cursor"]


def either(known: Known, seen: bool) -> bool:
    return known is None or known is seen


class Checks:
    """What chirp answers once the load is over, against what each person was told."""

    def __init__(self, client: httpx.AsyncClient, people: list[Person], ledger: Ledger) -> None:
        self.client = client
        self.people = people
        self.ledger = ledger

    async def timelines(self, viewer: Person | None = None) -> dict[int, list[dict[str, Any]]]:
        headers = viewer.headers if viewer else None
        return {
            p.user_id: await pages(
                self.client, f"/api/v1/users/{p.user_id}/tweets", "tweets", headers=headers
            )
            for p in self.people
        }

    async def following(self, person: Person) -> set[int]:
        path = f"/api/v1/users/{person.user_id}/following"
        followees = [u["user_id"] for u in await pages(self.client, path, "users", "cursor")]
        assert len(followees) == len(set(followees)), (person.name, "follows twice", followees)
        return set(followees)

    def why(self, person: Person, what: Any, *about: Any) -> str:
        """A failure message: whose view, what of it, and the requests that touched it."""
        return "\n".join([f"{person.name} {what} {about}", *self.ledger.history(*about)])

    async def acknowledged_writes(self) -> None:
        """Every acknowledged post, edit, delete, like, retweet and follow, once; no failed
        one; each unknown one either way."""
        timelines = await self.timelines()
        live = {t["tweet_id"] for ts in timelines.values() for t in ts if not t["retweet_of"]}
        for person in self.people:
            tweets = timelines[person.user_id]
            ids = [t["tweet_id"] for t in tweets]
            assert len(ids) == len(set(ids)), f"{person.name}: a tweet twice"
            self.own_tweets(
                person, {t["tweet_id"]: t["content"] for t in tweets if not t["retweet_of"]}
            )
            retweeted = Counter(t["retweet_of"]["tweet_id"] for t in tweets if t["retweet_of"])
            assert all(n == 1 for n in retweeted.values()), f"{person.name}: retweeted twice"
            for tweet_id in live:
                known = person.retweets.get(tweet_id, False)
                assert either(known, tweet_id in retweeted), self.why(person, "retweet", tweet_id)
            assert set(retweeted) <= live
            actual = await self.following(person)
            for other in self.people:
                known = person.following.get(other.user_id, False)
                seen = other.user_id in actual
                assert either(known, seen), self.why(person, "follows", other.user_id)
        await self.engagement(timelines, live)

    def own_tweets(self, person: Person, originals: dict[str, str]) -> None:
        for tweet_id, own in person.tweets.items():
            content = originals.pop(tweet_id, None)
            assert either(own.live, content is not None), self.why(person, own, tweet_id)
            assert content is None or content in own.contents, self.why(person, own, tweet_id)
        # What is left was posted by requests that got no answer: each at most once.
        left = Counter(originals.values())
        assert set(left) <= person.unknown_posts, self.why(person, "posted", *left)
        assert all(n == 1 for n in left.values()), self.why(person, "posted twice", *left)

    async def engagement(self, timelines: dict[int, list[dict[str, Any]]], live: set[str]) -> None:
        """Each live tweet's likes and retweets as each person sees them: the flags as the
        model says, and the counts equal to the flags' sum."""
        retweeters = {
            t["retweet_of"]["tweet_id"]: set()
            for ts in timelines.values()
            for t in ts
            if t["retweet_of"]
        }
        for person in self.people:
            for tweet in timelines[person.user_id]:
                if tweet["retweet_of"]:
                    retweeters[tweet["retweet_of"]["tweet_id"]].add(person.name)
        likers: dict[str, set[str]] = {t: set() for t in live}
        counts: dict[str, set[tuple[int, int]]] = {t: set() for t in live}
        for viewer in self.people:
            for tweets in (await self.timelines(viewer)).values():
                for tweet in tweets:
                    tweet_id = tweet["tweet_id"]
                    if tweet["retweet_of"]:
                        continue
                    known = viewer.likes.get(tweet_id, False)
                    assert either(known, tweet["liked"]), self.why(viewer, "likes", tweet_id)
                    if tweet["liked"]:
                        likers[tweet_id].add(viewer.name)
                    seen = viewer.name in retweeters.get(tweet_id, ())
                    assert tweet["retweeted"] == seen, self.why(viewer, "retweeted", tweet_id)
                    counts[tweet_id].add((tweet["like_count"], tweet["retweet_count"]))
        for tweet_id in live:
            expected = (len(likers[tweet_id]), len(retweeters.get(tweet_id, ())))
            assert counts[tweet_id] == {expected}, (
                counts[tweet_id],
                expected,
                self.ledger.history(tweet_id),
            )

    async def feeds(self) -> None:
        """Every feed is its owner's and followees' tweets, newest first, each once."""
        timelines = await self.timelines()
        for person in self.people:
            authors = {person.user_id} | await self.following(person)
            expected = sorted(
                (t["tweet_id"] for a in authors for t in timelines[a]), key=int, reverse=True
            )
            feed = await pages(self.client, "/api/v1/feed", "tweets", headers=person.headers)
            shown = [t["tweet_id"] for t in feed]
            assert shown == expected, self.why(
                person, "feed", *set(shown).symmetric_difference(expected)
            )

    async def search(self) -> None:
        """Each live tweet is found by its own word, and only it; every other text ever
        sent (failed, deleted, replaced, never applied) by its word, never."""
        timelines = await self.timelines()
        current = {
            t["content"]: t["tweet_id"]
            for tweets in timelines.values()
            for t in tweets
            if not t["retweet_of"]
        }
        for person in self.people:
            for content in person.attempted:
                found = await answer(
                    self.client.get("/api/v1/search", params={"q": content.split()[0]}), 200
                )
                ids = [t["tweet_id"] for t in found["results"]]
                expected = [current[content]] if content in current else []
                assert ids == expected, (
                    content,
                    ids,
                    expected,
                    self.ledger.history(content, *ids, *expected),
                )

    async def trending(self) -> None:
        """The global table holds each tag used by enough authors, with its tweet count."""
        timelines = await self.timelines()
        authors: dict[str, set[int]] = {}
        counts: Counter[str] = Counter()
        for user_id, tweets in timelines.items():
            for tweet in tweets:
                for tag in set() if tweet["retweet_of"] else set(tweet["hashtags"]):
                    authors.setdefault(tag, set()).add(user_id)
                    counts[tag] += 1
        expected = {t: counts[t] for t, who in authors.items() if len(who) >= MIN_AUTHORS}
        table = await answer(
            self.client.get("/api/v1/trending", params={"region": "global", "limit": 50}), 200
        )
        shown = {t["hashtag"]: t["tweet_count"] for t in table["trends"]}
        assert shown == expected, "\n".join([f"{shown} != {expected}", *self.ledger.unknown()])

    async def inboxes(self) -> None:
        """Nobody told twice of one event; each follower's follow told."""
        for person in self.people:
            inbox = await pages(
                self.client, "/api/v1/notifications", "notifications", "cursor", person.headers
            )
            ids = [n["notification_id"] for n in inbox]
            assert len(ids) == len(set(ids)), person.name
            told = {n["actor"]["user_id"] for n in inbox if n["type"] == "follow"}
            followers = {p.user_id for p in self.people if p.following.get(person.user_id)}
            assert followers <= told, self.why(person, "told of follows", *(followers - told))

    async def all_converge(self) -> None:
        await self.acknowledged_writes()
        await eventually(self.feeds)
        await eventually(self.search)
        await eventually(self.trending)
        await eventually(self.inboxes)


def summary(ledger: Ledger, kills: Counter[str]) -> str:
    """One line: the requests by outcome (the refusals by status), the kills by kind."""
    counts = ledger.counts()
    refusals = Counter(e.status for e in ledger.entries if e.outcome is Outcome.FAILED)
    by_kind = ", ".join(f"{kind} {n}" for kind, n in sorted(kills.items()))
    return (
        f"{len(ledger.entries)} requests: {counts['ok']} ok, {counts['failed']} failed "
        f"({refusals[503]} 503, {refusals[404]} 404), {counts['unknown']} unknown; "
        f"{sum(kills.values())} kills ({by_kind})"
    )
