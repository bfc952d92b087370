"""``python main.py --data-dir`` sent SIGTERM with 1,000 requests in flight: each request
either completes or is refused before chirp accepted it, nothing hangs or is cut short, the
process exits 0 on its own, and after a restart every acknowledged write is there, once,
and no refused one is.

"Refused before acceptance" is one of: the connection refused; a complete 503
problem+json with ``Retry-After``; or the connection closed (or reset) before a single byte
of the response arrived. The last is ambiguous to a client: its whole request may have been
sent. It counts as refused only because the restarted process shows the write absent: a
server that applied such a request would have lost an acknowledgement it owed.
"""

from __future__ import annotations

import json
import random
import signal
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11
import httpx
import pytest
import trio

from chirp.server import Running, serve
from tests.api.conftest import fast_settings
from tests.chaos_load import environment
from tests.sse import event_stream
from tests.test_process import ADMIN_TOKEN, chirp_process, url_in

#: Every wait is bounded by this: a hang guard, not a performance bound.
LIMIT = 60.0
PEOPLE = 12
SEED_TWEETS = 10  # per person, before the load: what the load likes
POSTS, LIKES, FOLLOWS, READS = 350, 250, 100, 300  # 1,000 requests at once
SINGLE = 500  # of them each on a connection of its own; the rest share keep-alive lanes
LANE = 5  # requests one after another on one connection, as a client pool does
SIGNAL_AFTER = 150  # complete responses before SIGTERM; the rest are still outstanding
PASSWORD = "correct horse battery"
END_OF_STREAM = b"\r\n0\r\n\r\n"  # a chunked response's last chunk: ended, not cut

ENVIRONMENT = environment(CHIRP_ADMIN_TOKEN=ADMIN_TOKEN)


@dataclass(frozen=True)
class Person:
    name: str
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Planned:
    """One request of the load. ``write`` names what it changes, unique in the load, so
    that the restarted process shows whether it was applied: ("post", person, content),
    ("like", person, tweet_id) or ("follow", person, user_id); None for a read."""

    method: str
    target: str
    person: Person
    body: Any = None
    write: tuple[str, Person, Any] | None = None


class Kind(Enum):
    ACKNOWLEDGED = "acknowledged (2xx)"
    REFUSED_503 = "refused: 503 with Retry-After"
    REFUSED_CONNECT = "refused: connection refused"
    UNANSWERED = "refused: closed before a byte of response"
    OTHER = "anything else"


@dataclass
class Outcome:
    planned: Planned
    kind: Kind
    status: int | None = None
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""
    why: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def judged(planned: Planned, status: int, headers: dict[bytes, bytes], body: bytes) -> Outcome:
    """A complete response: acknowledged, a well-formed 503 refusal, or something else."""
    if 200 <= status < 300:
        return Outcome(planned, Kind.ACKNOWLEDGED, status, headers, body)
    if (
        status == 503
        and headers.get(b"retry-after", b"").isdigit()
        and headers.get(b"content-type") == b"application/problem+json"
        and headers.get(b"connection") == b"close"
        and json.loads(body).get("status") == 503
    ):
        return Outcome(planned, Kind.REFUSED_503, status, headers, body)
    return Outcome(planned, Kind.OTHER, status, headers, body, why=f"answered {status}")


async def exchange(
    stream: trio.SocketStream, connection: h11.Connection, planned: Planned, host: str
) -> Outcome:
    """Send ``planned`` on ``stream`` and read its response, counting the bytes that came
    back: none means the request was never taken on (if the server keeps its promise)."""
    body = b"" if planned.body is None else json.dumps(planned.body).encode()
    head = [("Host", host), ("Authorization", f"Bearer {planned.person.token}")]
    if planned.body is not None:
        head += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    data = connection.send(h11.Request(method=planned.method, target=planned.target, headers=head))
    data += connection.send(h11.Data(data=body)) if body else b""
    data += connection.send(h11.EndOfMessage())
    try:
        await stream.send_all(data)
    except trio.BrokenResourceError:
        pass  # reset while sending: whatever came back says what happened
    received = 0
    status, headers, chunks = None, {}, []
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            try:
                chunk = await stream.receive_some(65536)
            except trio.BrokenResourceError:
                chunk = b""
            if not chunk:
                if received == 0:
                    return Outcome(planned, Kind.UNANSWERED)
                return Outcome(planned, Kind.OTHER, status, why=f"cut after {received} bytes")
            received += len(chunk)
            connection.receive_data(chunk)
        elif isinstance(event, h11.Response):
            status, headers = event.status_code, dict(event.headers)
        elif isinstance(event, h11.Data):
            chunks.append(event.data)
        elif isinstance(event, h11.EndOfMessage):
            assert status is not None
            return judged(planned, status, headers, b"".join(chunks))
        else:
            return Outcome(planned, Kind.OTHER, status, why=f"unexpected {event!r}")


class Load:
    """The 1,000 requests and what became of each. Every connection is opened first;
    then every lane sends its first request at once."""

    def __init__(self, url: str, plans: list[Planned]) -> None:
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.port is not None
        self.port = parts.port
        self.host = parts.netloc
        self.plans = plans
        self.lanes = [[p] for p in plans[:SINGLE]] + [
            plans[start : start + LANE] for start in range(SINGLE, len(plans), LANE)
        ]
        self.outcomes: list[Outcome] = []
        self.connected = 0
        self.all_connected = trio.Event()
        self.answered = 0  # complete responses so far
        self.enough = trio.Event()  # SIGNAL_AFTER of them

    async def connect(self) -> trio.SocketStream:
        return await trio.open_tcp_stream("127.0.0.1", self.port)

    async def lane(self, plans: list[Planned]) -> None:
        """``plans`` one after another on one keep-alive connection while it stays open;
        a new connection when the server closes it."""
        stream: trio.SocketStream | None = await self.connect()
        self.connected += 1
        if self.connected == len(self.lanes):
            self.all_connected.set()
        await self.all_connected.wait()
        connection = h11.Connection(h11.CLIENT)
        try:
            for planned in plans:
                if stream is None:
                    try:
                        stream = await self.connect()
                    except OSError as exc:
                        self.outcomes.append(Outcome(planned, Kind.REFUSED_CONNECT, why=str(exc)))
                        continue
                    connection = h11.Connection(h11.CLIENT)
                outcome = await exchange(stream, connection, planned, self.host)
                self.outcomes.append(outcome)
                if outcome.status is not None and outcome.kind is not Kind.OTHER:
                    self.answered += 1
                    if self.answered >= SIGNAL_AFTER:
                        self.enough.set()
                if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
                    connection.start_next_cycle()
                else:
                    await stream.aclose()
                    stream = None
        finally:
            if stream is not None:
                await stream.aclose()

    async def run(self) -> None:
        async with trio.open_nursery() as nursery:
            for plans in self.lanes:
                nursery.start_soon(self.lane, plans)


def plan(people: list[Person], seeded: dict[int, list[str]], rng: random.Random) -> list[Planned]:
    """POSTS posts, LIKES likes and FOLLOWS follows, each write distinct from every other,
    and READS reads, shuffled."""
    plans = [
        Planned("POST", "/api/v1/tweet", p, {"content": f"load{n}"}, ("post", p, f"load{n}"))
        for n, p in enumerate(rng.choices(people, k=POSTS))
    ]
    pairs = [(p, t) for p in people for q in people if q is not p for t in seeded[q.user_id]]
    for person, tweet_id in rng.sample(pairs, LIKES):
        plans.append(
            Planned(
                "POST", f"/api/v1/tweet/{tweet_id}/like", person, None, ("like", person, tweet_id)
            )
        )
    follows = [(p, q) for p in people for q in people if q is not p]
    for person, other in rng.sample(follows, FOLLOWS):
        target = f"/api/v1/users/{other.user_id}/follow"
        plans.append(Planned("POST", target, person, None, ("follow", person, other.user_id)))
    for _ in range(READS):
        person, author = rng.choice(people), rng.choice(people)
        plans.append(
            rng.choice(
                [
                    Planned("GET", f"/api/v1/users/{author.user_id}/tweets?limit=20", person),
                    Planned("GET", f"/api/v1/tweet/{rng.choice(seeded[author.user_id])}", person),
                    Planned("GET", "/api/v1/feed?limit=20", person),
                ]
            )
        )
    rng.shuffle(plans)
    return plans


async def answer(request: Any, *ok: int) -> Any:
    response = await request
    assert response.status_code in ok, response.text
    return response.json()


@asynccontextmanager
async def chirp_on(
    directory: Path, output: list[bytes]
) -> AsyncIterator[tuple[trio.Process, httpx.AsyncClient]]:
    """``main.py --data-dir directory`` and a client of it; everything it prints, from
    "chirp listening on" on, is added to ``output`` until it exits."""
    async with chirp_process("--data-dir", str(directory), **ENVIRONMENT) as (process, lines):
        output.extend(f"{line}\n".encode() for line in lines)
        async with trio.open_nursery() as nursery:

            async def collect() -> None:
                assert process.stdout is not None
                while chunk := await process.stdout.receive_some():
                    output.append(chunk)

            nursery.start_soon(collect)
            async with httpx.AsyncClient(base_url=url_in(lines), timeout=LIMIT) as client:
                yield process, client
            if process.returncode is None:
                process.kill()


async def sign_up(client: httpx.AsyncClient, name: str) -> Person:
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
    created = await answer(client.post("/api/v1/users", json=body), 201)
    return Person(name, created["user"]["user_id"], created["access_token"])


async def seed(client: httpx.AsyncClient, people: list[Person]) -> dict[int, list[str]]:
    """SEED_TWEETS tweets by each person, for the load to like: their ids by author."""
    seeded: dict[int, list[str]] = {p.user_id: [] for p in people}
    for person in people:
        for n in range(SEED_TWEETS):
            body = {"content": f"seed{person.user_id}x{n}"}
            made = await answer(
                client.post("/api/v1/tweet", headers=person.headers, json=body), 201
            )
            seeded[person.user_id].append(made["tweet_id"])
    return seeded


async def check_writes(
    client: httpx.AsyncClient, people: list[Person], outcomes: list[Outcome]
) -> None:
    """What the restarted process holds is exactly the acknowledged writes: each post
    under the id it was given and once, each like counted once, each follow; and nothing
    that was refused (every write of the load was acknowledged or refused)."""
    posted: dict[str, str] = {}  # content -> the id it was acknowledged with
    acknowledged: dict[str, set[tuple[str, Person, Any]]] = {"like": set(), "follow": set()}
    for outcome in outcomes:
        write = outcome.planned.write
        if write is None or outcome.kind is not Kind.ACKNOWLEDGED:
            continue
        if write[0] == "post":
            posted[write[2]] = outcome.json["tweet_id"]
        else:
            acknowledged[write[0]].add(write)
    liked, followed = acknowledged["like"], acknowledged["follow"]
    tweets: list[dict[str, Any]] = []
    likes: set[tuple[str, Person, Any]] = set()
    for viewer in people:
        for author in people:
            page = await answer(
                client.get(
                    f"/api/v1/users/{author.user_id}/tweets",
                    params={"limit": 100},
                    headers=viewer.headers,
                ),
                200,
            )
            assert page["next_cursor"] is None, "the test keeps timelines to one page"
            likes |= {("like", viewer, t["tweet_id"]) for t in page["tweets"] if t["liked"]}
            if viewer is people[0]:
                tweets += page["tweets"]
    contents = Counter(t["content"] for t in tweets)
    assert [c for c, n in contents.items() if n > 1] == []
    assert {
        t["content"]: t["tweet_id"] for t in tweets if t["content"].startswith("load")
    } == posted
    assert likes == liked
    assert {t["tweet_id"]: t["like_count"] for t in tweets} == {
        t["tweet_id"]: sum(1 for like in liked if like[2] == t["tweet_id"]) for t in tweets
    }
    follows = set()
    for person in people:
        page = await answer(
            client.get(f"/api/v1/users/{person.user_id}/following", params={"limit": 100}), 200
        )
        follows |= {("follow", person, u["user_id"]) for u in page["users"]}
    assert follows == followed


async def test_sigterm_with_1000_requests_in_flight_completes_or_refuses_each(
    tmp_path: Path,
) -> None:
    output: list[bytes] = []
    async with chirp_on(tmp_path, output) as (process, client):
        people = [await sign_up(client, f"person{n}") for n in range(PEOPLE)]
        load = Load(
            str(client.base_url), plan(people, await seed(client, people), random.Random(7))
        )
        authorization = people[0].headers["Authorization"]
        with trio.fail_after(LIMIT):
            async with event_stream("127.0.0.1", load.port, authorization) as events:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(load.run)
                    await load.enough.wait()
                    outstanding = len(load.plans) - len(load.outcomes)
                    process.send_signal(signal.SIGTERM)
                    await events.until(END_OF_STREAM)
            exit_code = await process.wait()
    text = b"".join(output).decode()
    kinds = Counter(o.kind for o in load.outcomes)
    print(
        f"\n{outstanding} outstanding at SIGTERM;",
        ", ".join(f"{k.value}: {kinds[k]}" for k in Kind),
    )
    assert len(load.outcomes) == len(load.plans)
    assert [
        (o.planned.method, o.planned.target, o.why, o.body[:300])
        for o in load.outcomes
        if o.kind is Kind.OTHER
    ] == []
    assert kinds[Kind.ACKNOWLEDGED] >= SIGNAL_AFTER
    assert kinds[Kind.ACKNOWLEDGED] < len(load.plans), "everything was answered before the signal"
    # The open event stream was ended, not cut: the last chunk of a chunked response.
    assert events.received.endswith(END_OF_STREAM)
    # Stopped on its own, each request answered within the grace: none cancelled by it.
    assert exit_code == 0, text
    assert "SIGTERM: draining requests, then stopping" in text
    assert "shutdown grace" not in text and "Traceback" not in text and " ERROR " not in text, text

    async with chirp_on(tmp_path, output) as (process, client):
        await check_writes(client, people, load.outcomes)
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(LIMIT):
            assert await process.wait() == 0


async def test_requests_the_grace_cuts_short_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """In process: a request still running when the grace runs out is cancelled and
    counted in a warning (the subprocess test relies on its absence)."""
    entered, stop = trio.Event(), trio.Event()
    async with trio.open_nursery() as nursery:
        running: Running = await nursery.start(
            partial(serve, fast_settings(port=0, shutdown_grace=0.2), shutdown_trigger=stop.wait)
        )

        async def hang() -> dict[str, str]:
            entered.set()
            await trio.sleep_forever()
            raise AssertionError("unreachable")

        running.chirp.app.add_url_rule("/hang", view_func=hang)
        async with httpx.AsyncClient(base_url=running.url, timeout=LIMIT) as client:
            async with trio.open_nursery() as requests:

                async def request_hang() -> None:
                    with pytest.raises(httpx.RemoteProtocolError):
                        await client.get("/hang")

                requests.start_soon(request_hang)
                await entered.wait()
                stop.set()
    assert "the shutdown grace of 0.2 s ran out; requests cancelled unanswered" in caplog.text
    assert "(applied or not): 1" in caplog.text
