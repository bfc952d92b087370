"""Notifications through the real app: who is told, preferences, grouping, read marks, and
the live stream over a real socket."""

from __future__ import annotations

import random
from functools import partial
from typing import Any

import trio
import trio.testing

from chirp.server import Chirp, Running, serve
from tests.chaos import ChaosMonkey, leaf_actors
from tests.sse import event_stream

from . import waiting
from .conftest import fast_settings, running, sign_up
from .test_feed import act


async def settled(chirp: Chirp) -> None:
    await waiting.settled(chirp, "notify")


async def inbox(chirp: Chirp, headers: dict, **params: Any) -> dict[str, Any]:
    await settled(chirp)
    response = await chirp.app.test_client().get(
        "/api/v1/notifications", headers=headers, query_string=params
    )
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


def kinds(body: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(n["type"], n["actor"]["username"], n["count"]) for n in body["notifications"]]


async def test_each_kind_of_event_tells_its_target_and_nobody_is_told_of_their_own(
    chirp: Chirp,
) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    await act(chirp, "post", f"/api/v1/users/{alice_id}/follow", bob)
    tweet = await act(chirp, "post", "/api/v1/tweet", alice, content="hello @bob, @alice here")
    tid = tweet["tweet_id"]
    await act(chirp, "post", "/api/v1/tweet", bob, content="hi!", reply_to_tweet_id=tid)
    await act(chirp, "post", f"/api/v1/tweet/{tid}/like", bob)
    await act(chirp, "post", f"/api/v1/tweet/{tid}/retweet", bob)
    await act(chirp, "post", f"/api/v1/tweet/{tid}/like", alice)  # her own: nobody is told
    body = await inbox(chirp, alice)
    assert kinds(body) == [
        ("retweet", "bob", 1),
        ("like", "bob", 1),
        ("reply", "bob", 1),
        ("follow", "bob", 1),
    ]
    assert body["unread_count"] == 4 and body["next_cursor"] is None
    assert kinds(await inbox(chirp, bob)) == [("mention", "alice", 1)]


async def test_likes_of_one_tweet_are_grouped_and_pages_follow_the_cursor(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    fans = [(await sign_up(chirp, f"fan{n}"))[1] for n in range(3)]
    tweet = await act(chirp, "post", "/api/v1/tweet", alice, content="like me")
    for fan in fans:
        await act(chirp, "post", f"/api/v1/tweet/{tweet['tweet_id']}/like", fan)
    other = await act(chirp, "post", "/api/v1/tweet", alice, content="me too")
    await act(chirp, "post", f"/api/v1/tweet/{other['tweet_id']}/like", fans[0])
    body = await inbox(chirp, alice)
    assert [(n["group_key"], n["count"]) for n in body["notifications"]] == [
        (f"like:{other['tweet_id']}", 1),
        (f"like:{tweet['tweet_id']}", 3),
    ]
    first = await inbox(chirp, alice, limit=1)
    assert len(first["notifications"]) == 1 and first["next_cursor"] is not None
    rest = await inbox(chirp, alice, limit=1, cursor=first["next_cursor"])
    assert [n["group_key"] for n in rest["notifications"]] == [f"like:{tweet['tweet_id']}"]


async def test_a_page_of_one_group_still_leads_to_older_notifications(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    _, early = await sign_up(chirp, "early")
    await act(chirp, "post", f"/api/v1/users/{alice_id}/follow", early)
    tweet = await act(chirp, "post", "/api/v1/tweet", alice, content="popular")
    for n in range(10):
        _, fan = await sign_up(chirp, f"fan{n}")
        await act(chirp, "post", f"/api/v1/tweet/{tweet['tweet_id']}/like", fan)
    seen, cursor = [], None
    while True:
        body = await inbox(chirp, alice, limit=1, **({"cursor": cursor} if cursor else {}))
        seen.extend((n["type"], n["count"]) for n in body["notifications"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen[-1] == ("follow", 1), "the oldest is reachable however the likes group"
    assert sum(count for kind, count in seen if kind == "like") == 10


async def test_a_read_mark_never_runs_ahead_of_the_inbox(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    _, bob = await sign_up(chirp, "bob")
    _, carol = await sign_up(chirp, "carol")
    await act(chirp, "post", f"/api/v1/users/{alice_id}/follow", bob)
    await inbox(chirp, alice)
    ahead = str(2**63 - 1)
    assert await act(chirp, "post", "/api/v1/notifications/read", alice, up_to_id=ahead) == {
        "unread_count": 0
    }
    await act(chirp, "post", f"/api/v1/users/{alice_id}/follow", carol)
    assert (await inbox(chirp, alice))["unread_count"] == 1, "a later one is still unread"


async def test_marking_read_and_the_unread_count(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    followers = [(await sign_up(chirp, f"f{n}"))[1] for n in range(3)]
    for headers in followers:
        await act(chirp, "post", f"/api/v1/users/{alice_id}/follow", headers)
    body = await inbox(chirp, alice)
    assert body["unread_count"] == 3
    middle = body["notifications"][1]["notification_id"]
    read = await act(chirp, "post", "/api/v1/notifications/read", alice, up_to_id=middle)
    assert read == {"unread_count": 1}
    body = await inbox(chirp, alice)
    assert [n["read"] for n in body["notifications"]] == [False, True, True]


async def test_preferences_filter_what_is_stored(chirp: Chirp) -> None:
    alice_id, alice = await sign_up(chirp, "alice")
    bob_id, bob = await sign_up(chirp, "bob")
    _, carol = await sign_up(chirp, "carol")
    prefs = await act(
        chirp,
        "patch",
        "/api/v1/users/me/notification_preferences",
        alice,
        kinds=["mention", "follow"],
        only_following=True,
    )
    assert prefs == {"kinds": ["follow", "mention"], "only_following": True}
    await act(chirp, "post", f"/api/v1/users/{bob_id}/follow", alice)
    tweet = await act(chirp, "post", "/api/v1/tweet", alice, content="mine")
    await act(chirp, "post", f"/api/v1/tweet/{tweet['tweet_id']}/like", bob)  # likes: off
    await act(chirp, "post", "/api/v1/tweet", bob, content="hey @alice")  # followed: told
    await act(chirp, "post", "/api/v1/tweet", carol, content="hey @alice")  # not followed
    await act(chirp, "post", f"/api/v1/users/{alice_id}/follow", carol)  # not followed
    assert kinds(await inbox(chirp, alice)) == [("mention", "bob", 1)]


async def test_bad_input_is_refused_with_problems(chirp: Chirp) -> None:
    _, alice = await sign_up(chirp, "alice")
    client = chirp.app.test_client()
    cases = [
        ("get", "/api/v1/notifications", {}, None, 401),
        ("get", "/api/v1/notifications?limit=-1", alice, None, 400),
        ("post", "/api/v1/notifications/read", alice, {"up_to_id": "x1"}, 422),
        ("post", "/api/v1/notifications/read", alice, {"up_to_id": 5}, 422),
        ("patch", "/api/v1/users/me/notification_preferences", alice, {"kinds": ["spam"]}, 422),
        ("patch", "/api/v1/users/me/notification_preferences", alice, {"mute": True}, 422),
        ("get", "/api/v1/stream", {}, None, 401),
    ]
    for method, path, headers, body, status in cases:
        kwargs = {"headers": headers} | ({"json": body} if body is not None else {})
        response = await getattr(client, method)(path, **kwargs)
        assert response.status_code == status, (path, body, await response.get_data())
        assert response.content_type == "application/problem+json"


async def test_killing_the_notifiers_mid_stream_loses_and_doubles_nothing(
    nursery: trio.Nursery,
) -> None:
    """The embedded stores answer without yielding, so a consumer could never be killed
    half-way through a batch; here they yield on every call, as a remote store's would,
    and the chaos task's kills land inside batches."""
    both = [await running(nursery, max_restarts=1_000_000) for _ in range(2)]
    calm, chaos = both
    for c in both:
        service = c.services.notifications
        service._store = Yielding(service._store)  # type: ignore[assignment]
        service._tweets = Yielding(service._tweets)  # type: ignore[assignment]
    victims = [n for n in leaf_actors(chaos.system.tree()) if n.startswith("notify.")]
    rng = random.Random(11)
    users = [[await sign_up(c, f"u{n}") for n in range(8)] for c in both]
    posted: list[list[str]] = [[], []]
    # What each user must be told, by the rules, counted from the actions themselves.
    expected = [0] * 8
    authors: list[int] = []  # who wrote each posted tweet
    liked: set[tuple[int, int]] = set()
    follows: set[tuple[int, int]] = set()
    monkey = ChaosMonkey(chaos.system, victims, random.Random(1))
    async with monkey.loose():
        for step in range(200):
            a, b, action = rng.randrange(8), rng.randrange(8), rng.random()
            pick = rng.randrange(len(posted[0])) if posted[0] else 0
            if action < 0.3 and posted[0]:
                if (a, pick) not in liked and authors[pick] != a:
                    expected[authors[pick]] += 1
                liked.add((a, pick))
            elif action < 0.4 and a != b:
                expected[b] += (a, b) not in follows
                follows.add((a, b))
            else:
                authors.append(a)
                expected[b] += a != b
            for c, people, mine in zip(both, users, posted, strict=True):
                (_, actor), (target_id, _) = people[a], people[b]
                if action < 0.3 and mine:
                    await act(c, "post", f"/api/v1/tweet/{mine[pick]}/like", actor)
                elif action < 0.4 and a != b:
                    await act(c, "post", f"/api/v1/users/{target_id}/follow", actor)
                else:
                    text = f"{step} hi @u{b}"
                    mine.append(
                        (await act(c, "post", "/api/v1/tweet", actor, content=text))["tweet_id"]
                    )
    assert monkey.kills > 30
    for c in both:  # every actor back and caught up: on real servers that takes I/O
        await waiting.settled(c)
    assert not chaos.system.unavailable(), "every actor restarted"
    for n in range(8):
        got = [
            await inbox(c, people[n][1], limit=100) for c, people in zip(both, users, strict=True)
        ]
        # The same notifications; their order across topics follows which consumer got
        # there first, which kills (and, on a shared log, real round trips) reshuffle.
        assert sorted(kinds(got[0])) == sorted(kinds(got[1])), n
        assert got[0]["unread_count"] == got[1]["unread_count"] == expected[n], n
        assert sum(item["count"] for item in got[1]["notifications"]) == expected[n], n


async def test_the_stream_delivers_a_mention_to_a_connected_client() -> None:
    """A real client on a loopback socket (plain HTTP/1.1, read as it arrives) gets the
    mention and the new entry in its feed."""
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        live: Running = await nursery.start(
            partial(serve, fast_settings(port=0), shutdown_trigger=stop.wait)
        )
        alice_id, alice = await sign_up(live.chirp, "alice")
        _, bob = await sign_up(live.chirp, "bob")
        await act(live.chirp, "post", f"/api/v1/users/{alice_id}/follow", bob)
        await act(live.chirp, "get", "/api/v1/feed", bob)  # bob's feed is cached: pushed to
        host, port = live.url.removeprefix("http://").rsplit(":", 1)
        with trio.fail_after(10):
            async with event_stream(host, int(port), bob["Authorization"]) as events:
                head = events.received
                assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head
                await act(live.chirp, "post", "/api/v1/tweet", alice, content="hi @bob")
                await events.until(b'"kind": "mention"', b"event: feed")
        stop.set()


class Yielding:
    """A store whose every call lets other tasks run before and after it, as a network
    round trip would."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            await trio.lowlevel.checkpoint()
            answer = await method(*args, **kwargs)
            await trio.lowlevel.checkpoint()  # done, and not yet acknowledged
            return answer

        return call
