"""``python main.py --data-dir`` killed with SIGKILL in the middle of a mixed load, then
started again on the same directory: every acknowledged write is there, once; each request
in flight at the kill is there whole or not at all (its start-up repaired it); and feeds,
trending, search and inboxes converge to what the stores say. And a torn journal tail is
dropped at start-up, with a warning, the data intact."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.chaos_load import (
    LIMIT,
    MIN_AUTHORS,
    TAGS,
    answer,
    environment,
    eventually,
    sign_up,
)
from tests.test_process import ADMIN_TOKEN, chirp_process, url_in

PEOPLE = 5
KILL_AFTER = 150  # acknowledged writes of the mixed load before SIGKILL

ENVIRONMENT = environment(
    CHIRP_ADMIN_TOKEN=ADMIN_TOKEN,
    # Snapshots now and then under the load: start-up reads one and a journal after it.
    CHIRP_SNAPSHOT_EVERY="300",
)


@dataclass
class Person:
    """One account driven by one task, one request at a time, and what it was told."""

    name: str
    user_id: int
    headers: dict[str, str]
    originals: dict[str, str] = field(default_factory=dict)  # live tweet id -> content
    deleted: dict[str, str] = field(default_factory=dict)  # id -> its last content
    replaced: list[str] = field(default_factory=list)  # contents edited away
    unsaid: list[str] = field(default_factory=list)  # contents in flight, not there after
    likes: set[str] = field(default_factory=set)
    retweets: set[str] = field(default_factory=set)  # originals retweeted
    following: set[int] = field(default_factory=set)
    #: The request in flight when the process died: applied or not, nobody knows.
    pending: tuple[Any, ...] | None = None
    made: int = 0


class Load:
    """Mixed writes by every person at once; each acknowledged one is written down."""

    def __init__(self, client: httpx.AsyncClient, people: list[Person], seed: int) -> None:
        self.client = client
        self.people = people
        self.rng = random.Random(seed)
        self.acknowledged = 0
        self.enough = trio.Event()

    def others_tweets(self, person: Person) -> list[str]:
        return [t for p in self.people if p is not person for t in p.originals]

    def content(self, person: Person, kind: str) -> str:
        person.made += 1
        tags = " ".join(f"#{t}" for t in self.rng.sample(TAGS, self.rng.randrange(3)))
        return f"{kind}{person.user_id}x{person.made} {tags}".strip()

    async def act(self, person: Person) -> None:
        """One request, its outcome written down if it was acknowledged."""
        rng, client, headers = self.rng, self.client, person.headers
        others = self.others_tweets(person)
        choice = rng.choices(
            ["post", "edit", "delete", "like", "unlike", "retweet", "unretweet", "follow"],
            weights=[30, 10, 8, 20, 5, 10, 5, 12],
        )[0]
        if choice in ("edit", "delete") and not person.originals:
            choice = "post"
        if choice in ("like", "retweet") and not others:
            choice = "post"
        match choice:
            case "post":
                content = self.content(person, "w")
                person.pending = ("post", content)
                made = await answer(
                    client.post("/api/v1/tweet", headers=headers, json={"content": content}), 201
                )
                person.originals[made["tweet_id"]] = content
            case "edit":
                tweet_id = rng.choice(list(person.originals))
                content = self.content(person, "e")
                person.pending = ("edit", tweet_id, content)
                await answer(
                    client.patch(
                        f"/api/v1/tweet/{tweet_id}", headers=headers, json={"content": content}
                    ),
                    200,
                )
                person.replaced.append(person.originals[tweet_id])
                person.originals[tweet_id] = content
            case "delete":
                tweet_id = rng.choice(list(person.originals))
                person.pending = ("delete", tweet_id)
                await answer(client.delete(f"/api/v1/tweet/{tweet_id}", headers=headers), 204)
                person.deleted[tweet_id] = person.originals.pop(tweet_id)
            case "like" | "retweet":
                tweet_id = rng.choice(others)
                person.pending = (choice, tweet_id)
                response = await client.post(f"/api/v1/tweet/{tweet_id}/{choice}", headers=headers)
                if response.status_code == 404:  # its author deleted it meanwhile
                    person.pending = None
                    return
                assert response.status_code in (200, 201), response.text
                (person.likes if choice == "like" else person.retweets).add(tweet_id)
            case "unlike" | "unretweet":
                held = person.likes if choice == "unlike" else person.retweets
                if not held:
                    return
                tweet_id = rng.choice(sorted(held))
                person.pending = (choice, tweet_id)
                verb = choice.removeprefix("un")
                response = await client.delete(f"/api/v1/tweet/{tweet_id}/{verb}", headers=headers)
                if response.status_code == 404:
                    person.pending = None
                    return
                assert response.status_code in (200, 204), response.text
                held.discard(tweet_id)
            case "follow":
                other = rng.choice([p for p in self.people if p is not person])
                verb = "delete" if other.user_id in person.following else "post"
                person.pending = (f"{verb} follow", other.user_id)
                await answer(
                    client.request(verb, f"/api/v1/users/{other.user_id}/follow", headers=headers),
                    200,
                    201,
                    204,
                )
                person.following.symmetric_difference_update({other.user_id})
        person.pending = None
        self.acknowledged += 1
        if self.acknowledged >= KILL_AFTER:
            self.enough.set()

    async def run(self, person: Person, stop: trio.Event) -> None:
        """Until the process dies: then the request in flight stays ``pending``."""
        try:
            while True:
                await self.act(person)
                if stop.is_set():
                    return
        except httpx.TransportError:
            return


async def get(
    client: httpx.AsyncClient, path: str, headers: dict | None = None, **params: Any
) -> Any:
    return await answer(client.get(path, headers=headers or {}, params=params), 200)


class Checks:
    """What the restarted process answers, against what each person was told."""

    def __init__(self, client: httpx.AsyncClient, people: list[Person]) -> None:
        self.client = client
        self.people = people
        self.by_id = {p.user_id: p for p in people}
        #: Tweets a delete in flight may have half removed (retweets first, then itself).
        self.unsure = {p.pending[1] for p in people if p.pending and p.pending[0] == "delete"}

    async def timelines(self) -> dict[int, list[dict[str, Any]]]:
        found = {}
        for person in self.people:
            page = await get(self.client, f"/api/v1/users/{person.user_id}/tweets", limit=100)
            assert page["next_cursor"] is None, "the test keeps timelines to one page"
            found[person.user_id] = page["tweets"]
        return found

    async def acknowledged_writes(self) -> None:
        """Every acknowledged post, edit, delete, like, retweet and follow, once."""
        timelines = await self.timelines()
        live = {t["tweet_id"] for ts in timelines.values() for t in ts if not t["retweet_of"]}
        for person in self.people:
            tweets = timelines[person.user_id]
            ids = [t["tweet_id"] for t in tweets]
            assert len(ids) == len(set(ids)), f"{person.name}: a tweet twice"
            originals = {t["tweet_id"]: t["content"] for t in tweets if not t["retweet_of"]}
            self.same_or_pending(person, originals)
            retweeted = {t["retweet_of"]["tweet_id"] for t in tweets if t["retweet_of"]}
            expected = {t for t in person.retweets if t in live and t not in self.unsure}
            match person.pending:
                case ("retweet", tweet_id):
                    assert retweeted - {tweet_id} == expected - {tweet_id}
                case ("unretweet", tweet_id):
                    assert retweeted - {tweet_id} == expected - {tweet_id}
                case _:
                    assert retweeted - self.unsure == expected, person.name
            following = await get(
                self.client, f"/api/v1/users/{person.user_id}/following", limit=100
            )
            actual = {u["user_id"] for u in following["users"]}
            match person.pending:
                case (("post follow" | "delete follow"), other):
                    assert actual - {other} == person.following - {other}
                case _:
                    assert actual == person.following, person.name
        for tweet_id in sorted(live - self.unsure):
            likers = {p.name for p in self.people if tweet_id in p.likes}
            flagged, count = set(), None
            for person in self.people:
                view = await get(self.client, f"/api/v1/tweet/{tweet_id}", person.headers)
                count = view["like_count"]
                if view["liked"]:
                    flagged.add(person.name)
                if person.pending in (("like", tweet_id), ("unlike", tweet_id)):
                    likers ^= (
                        {person.name}
                        if (person.name in flagged) != (person.name in likers)
                        else set()
                    )
            assert flagged == likers and count == len(likers), tweet_id

    def same_or_pending(self, person: Person, originals: dict[str, str]) -> None:
        """The person's tweets are what they were told, give or take the request in
        flight when the process died (a post's id was never told: matched by content)."""
        told = dict(person.originals)
        match person.pending:
            case ("post", content):
                extra = {i: c for i, c in originals.items() if i not in told}
                assert extra in ({}, {next(iter(extra), ""): content}), (person.name, extra)
                originals = {i: c for i, c in originals.items() if i in told}
            case ("edit", tweet_id, content):
                assert originals.get(tweet_id) in (told[tweet_id], content)
                originals[tweet_id] = told[tweet_id]
            case ("delete", tweet_id):
                originals.setdefault(tweet_id, told[tweet_id])
        assert originals == told, person.name

    async def resolve_in_flight(self) -> None:
        """Write down what became of each request in flight at the kill, as its author's
        timeline now shows it: a post there or not, an edit's new text or its old, a
        delete done or not, a retweet, like or follow made or not. Nothing is written: the
        checks after this hold only if the start-up left no write half done (a post in the
        timeline but in no index, an edit or delete announced and not applied)."""
        timelines = await self.timelines()
        for person in self.people:
            own = {t["tweet_id"]: t for t in timelines[person.user_id]}
            match person.pending:
                case ("post", content):
                    made = [i for i, t in own.items() if t["content"] == content]
                    if made:
                        person.originals[made[0]] = content
                    else:
                        person.unsaid.append(content)
                case ("edit", tweet_id, content):
                    old, shown = person.originals[tweet_id], own[tweet_id]["content"]
                    assert shown in (old, content), (person.name, shown)
                    person.originals[tweet_id] = shown
                    if shown == content:
                        person.replaced.append(old)
                    else:
                        person.unsaid.append(content)
                case ("delete", tweet_id):
                    if tweet_id not in own:
                        person.deleted[tweet_id] = person.originals.pop(tweet_id)
                case (("retweet" | "unretweet"), tweet_id):
                    retweeted = {
                        t["retweet_of"]["tweet_id"] for t in own.values() if t["retweet_of"]
                    }
                    made_it = tweet_id in retweeted
                    (person.retweets.add if made_it else person.retweets.discard)(tweet_id)
                case (("like" | "unlike"), tweet_id):
                    path = f"/api/v1/tweet/{tweet_id}"
                    response = await self.client.get(path, headers=person.headers)
                    liked = response.status_code == 200 and response.json()["liked"]
                    (person.likes.add if liked else person.likes.discard)(tweet_id)
                case (("post follow" | "delete follow"), other):
                    path = f"/api/v1/users/{person.user_id}/following"
                    following = await get(self.client, path, limit=100)
                    follows = other in {u["user_id"] for u in following["users"]}
                    (person.following.add if follows else person.following.discard)(other)
            person.pending = None

    async def feeds(self) -> None:
        """Every feed is its owner's and followees' tweets, newest first, each once."""
        timelines = await self.timelines()
        for person in self.people:
            following = await get(
                self.client, f"/api/v1/users/{person.user_id}/following", limit=100
            )
            authors = {person.user_id} | {u["user_id"] for u in following["users"]}
            expected = sorted(
                (t["tweet_id"] for a in authors for t in timelines[a]), key=int, reverse=True
            )[:100]
            feed = await get(self.client, "/api/v1/feed", person.headers, limit=100)
            assert [t["tweet_id"] for t in feed["tweets"]] == expected, person.name

    async def search(self) -> None:
        """Each live tweet is found by its own word, and only it; deleted tweets and
        replaced texts by theirs, never."""
        timelines = await self.timelines()
        for tweets in timelines.values():
            for tweet in tweets:
                if not tweet["retweet_of"]:
                    word = tweet["content"].split()[0]
                    found = await get(self.client, "/api/v1/search", q=word)
                    assert [t["tweet_id"] for t in found["results"]] == [tweet["tweet_id"]]
        gone = [c for p in self.people for c in (*p.deleted.values(), *p.replaced, *p.unsaid)]
        for content in gone:
            found = await get(self.client, "/api/v1/search", q=content.split()[0])
            assert found["results"] == [], content

    async def trending(self) -> None:
        """The global table holds each tag used by enough authors, with its tweet count."""
        timelines = await self.timelines()
        authors: dict[str, set[int]] = {}
        counts: dict[str, int] = {}
        for user_id, tweets in timelines.items():
            for tweet in tweets:
                for tag in set() if tweet["retweet_of"] else set(tweet["hashtags"]):
                    authors.setdefault(tag, set()).add(user_id)
                    counts[tag] = counts.get(tag, 0) + 1
        expected = {t: counts[t] for t, who in authors.items() if len(who) >= MIN_AUTHORS}
        table = await get(self.client, "/api/v1/trending", region="global", limit=50)
        assert {t["hashtag"]: t["tweet_count"] for t in table["trends"]} == expected

    async def inboxes(self) -> None:
        """Each follower's follow told once per follow, nobody told twice of one event."""
        for person in self.people:
            inbox = await get(self.client, "/api/v1/notifications", person.headers, limit=100)
            ids = [n["notification_id"] for n in inbox["notifications"]]
            assert len(ids) == len(set(ids))
            followers = {
                n["actor"]["user_id"] for n in inbox["notifications"] if n["type"] == "follow"
            }
            told = {p.user_id for p in self.people if person.user_id in p.following}
            assert told <= followers, person.name


@asynccontextmanager
async def chirp_on(
    directory: Path,
) -> AsyncIterator[tuple[trio.Process, httpx.AsyncClient, str]]:
    """``main.py --data-dir directory``, a client of it, and what it printed."""
    async with chirp_process("--data-dir", str(directory), **ENVIRONMENT) as (process, lines):
        async with httpx.AsyncClient(base_url=url_in(lines), timeout=LIMIT) as client:
            yield process, client, "\n".join(lines)


async def test_kill_9_mid_load_loses_no_acknowledged_write_and_the_views_converge(
    tmp_path: Path,
) -> None:
    async with chirp_on(tmp_path) as (process, client, _):
        people = [await sign_up(client, f"person{n}", Person) for n in range(PEOPLE)]
        load = Load(client, people, seed=9)
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            for person in people:
                nursery.start_soon(load.run, person, stop)
            await load.enough.wait()
            process.kill()  # SIGKILL, with every person's next request on its way
            stop.set()
        assert load.acknowledged >= KILL_AFTER
    async with chirp_on(tmp_path) as (process, client, output):
        assert "recovered" in output and "journal entries after it" in output
        assert "start-up repair:" in output
        checks = Checks(client, people)
        await checks.acknowledged_writes()
        await checks.resolve_in_flight()
        await checks.acknowledged_writes()  # now exactly as each person was told, or saw
        await eventually(checks.feeds)
        await eventually(checks.search)
        await eventually(checks.trending)
        await eventually(checks.inboxes)
        # Tokens issued before the crash still work (the key is kept with the data), and
        # the next tweet's id is above every one made before.
        newest = max(int(t) for p in people for t in (*p.originals, *p.deleted))
        made = await answer(
            client.post(
                "/api/v1/tweet", headers=people[0].headers, json={"content": "after it all"}
            ),
            201,
        )
        assert int(made["tweet_id"]) > newest
        await eventually(checks.feeds)


async def test_a_torn_journal_tail_is_dropped_with_a_warning_and_the_data_kept(
    tmp_path: Path,
) -> None:
    async with chirp_on(tmp_path) as (process, client, _):
        ana = await sign_up(client, "ana", Person)
        made = []
        for n in range(5):
            body = {"content": f"w{n}"}
            made.append(
                await answer(client.post("/api/v1/tweet", headers=ana.headers, json=body), 201)
            )
        process.kill()
        await process.wait()
    segments = sorted((tmp_path / "journal").glob("*.seg"))
    torn = b"\x00\x00\x01\x00garbage, as a write cut short by a crash leaves"
    with open(segments[-1], "ab") as segment:
        segment.write(torn)
    async with chirp_on(tmp_path) as (process, client, output):
        assert "WARNING storage.durable" in output
        assert f"dropped the last {len(torn)} bytes" in output
        timeline = await get(client, f"/api/v1/users/{ana.user_id}/tweets")
        assert [t["tweet_id"] for t in timeline["tweets"]] == [
            t["tweet_id"] for t in reversed(made)
        ]
        more = client.post("/api/v1/tweet", headers=ana.headers, json={"content": "more"})
        assert await answer(more, 201)
