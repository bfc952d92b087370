"""chirp with ``data_dir``, stopped and assembled again from the same directory in this
process: every write is back, and feeds, trending, search and inboxes read as they did."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trio

from chirp.backends import open_backends
from chirp.cli import main
from chirp.config import Settings
from chirp.server import Chirp, assemble
from chirp.services.users import utc_now

from .api.conftest import fast_settings, sign_up
from .api.waiting import settled

TAG = "durable"


@asynccontextmanager
async def durable_chirp(
    settings: Settings, now: Callable[[], datetime] = utc_now
) -> AsyncIterator[Chirp]:
    """chirp recovered from ``settings.data_dir``, its tree running; stopped in order on
    the way out (the final snapshot), or as by a crash if the body raises."""
    async with open_backends(settings) as backends:
        chirp = assemble(settings, backends=backends, now=now)
        async with trio.open_nursery() as nursery:
            await nursery.start(chirp.system.run)
            yield chirp
            await chirp.system.shutdown()


class Crash(Exception):
    """Leaves chirp as kill -9 would: the tree cancelled, no final snapshot."""


@contextmanager
def crashing() -> Iterator[None]:
    with pytest.raises(BaseExceptionGroup) as caught:
        yield
    assert caught.group_contains(Crash)


async def call(
    chirp: Chirp, method: str, path: str, headers: dict | None = None, **body: Any
) -> Any:
    client = chirp.app.test_client()
    response = await getattr(client, method)(
        path, headers=headers or {}, **({"json": body} if body else {})
    )
    assert response.status_code < 300, (path, response.status_code, await response.get_data())
    return await response.get_json() if response.status_code != 204 else None


async def login(chirp: Chirp, username: str) -> dict[str, str]:
    tokens = await call(
        chirp, "post", "/api/v1/auth/token", username=username, password="correct horse battery"
    )
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def write_everything(chirp: Chirp) -> dict[str, Any]:
    """Accounts, follows, tweets (with tags and mentions), replies, an edit, a delete,
    likes, an unlike, retweets, a read mark and preferences, all through the API."""
    people = {}
    for name in ("ana", "bo", "cy", "di"):
        people[name] = await sign_up(chirp, name)
    (ana, ana_h), (bo, bo_h), (cy, cy_h), (di, di_h) = people.values()
    for follower, followee in [(bo_h, ana), (cy_h, ana), (di_h, ana), (ana_h, bo), (cy_h, bo)]:
        await call(chirp, "post", f"/api/v1/users/{followee}/follow", follower)
    await call(chirp, "post", f"/api/v1/users/{bo}/follow", di_h)
    await call(chirp, "delete", f"/api/v1/users/{bo}/follow", di_h)  # and unfollowed
    tweets = []
    for headers, text in [
        (ana_h, f"first post #{TAG} hello @bo"),
        (bo_h, f"second #{TAG} about gardens"),
        (cy_h, f"third #{TAG} #python gardens again"),
        (ana_h, "a tweet to be deleted #gone"),
        (di_h, "a tweet to be edited"),
    ]:
        tweets.append(
            (await call(chirp, "post", "/api/v1/tweet", headers, content=text))["tweet_id"]
        )
    first, second, third, doomed, edited = tweets
    await chirp.stores.durable.snapshot()  # half-way: a restart reads it, then the journal
    reply = await call(
        chirp, "post", "/api/v1/tweet", bo_h, content="a reply", reply_to_tweet_id=first
    )
    await call(chirp, "patch", f"/api/v1/tweet/{edited}", di_h, content=f"edited into #{TAG}")
    await call(chirp, "delete", f"/api/v1/tweet/{doomed}", ana_h)
    for headers in (bo_h, cy_h, di_h):
        await call(chirp, "post", f"/api/v1/tweet/{first}/like", headers)
    await call(chirp, "delete", f"/api/v1/tweet/{first}/like", di_h)
    await call(chirp, "post", f"/api/v1/tweet/{second}/retweet", ana_h)
    await call(chirp, "post", f"/api/v1/tweet/{third}/retweet", bo_h)
    await call(chirp, "patch", "/api/v1/users/me", cy_h, bio="gardener", region="uk")
    await call(chirp, "patch", "/api/v1/users/me/notification_preferences", di_h, kinds=["follow"])
    inbox = await call(chirp, "get", "/api/v1/notifications", ana_h)
    await call(
        chirp,
        "post",
        "/api/v1/notifications/read",
        ana_h,
        up_to_id=inbox["notifications"][-1]["notification_id"],
    )
    return {
        "users": {name: user_id for name, (user_id, _) in people.items()},
        "tweets": [*tweets, reply["tweet_id"]],
    }


async def picture(chirp: Chirp, written: dict[str, Any]) -> dict[str, Any]:
    """Everything a client can read of what was written, and the derived views: feeds,
    trending, search, inboxes. Read once every consumer has caught up and the index has
    committed."""
    await settled(chirp)
    await chirp.system.ref("search.indexer").ask(("commit",))
    seen: dict[str, Any] = {}
    for name, user_id in written["users"].items():
        headers = await login(chirp, name)
        for path in (
            f"/api/v1/users/{user_id}",
            f"/api/v1/users/{user_id}/followers",
            f"/api/v1/users/{user_id}/following",
            f"/api/v1/users/{user_id}/tweets",
            "/api/v1/feed",
            "/api/v1/notifications",
            "/api/v1/users/me/notification_preferences",
        ):
            seen[f"{name} {path}"] = await call(chirp, "get", path, headers)
    for tweet_id in written["tweets"]:
        response = await chirp.app.test_client().get(f"/api/v1/tweet/{tweet_id}")
        seen[f"tweet {tweet_id}"] = (response.status_code, await response.get_json())
        response = await chirp.app.test_client().get(f"/api/v1/tweet/{tweet_id}/history")
        seen[f"history {tweet_id}"] = (response.status_code, await response.get_json())
    seen["hashtag"] = await call(chirp, "get", f"/api/v1/hashtag/{TAG}")
    for query, kind in [
        ("gardens", "tweets"),
        (f"#{TAG}", "tweets"),
        ("a", "users"),
        ("d", "hashtags"),
    ]:
        seen[f"search {kind} {query}"] = await _search(chirp, query, kind)
    for table in ("global", "uk", "tech"):
        seen[f"trending {table}"] = await chirp.stores.trends.top(table, 10)
    return seen


async def _search(chirp: Chirp, query: str, kind: str) -> Any:
    response = await chirp.app.test_client().get(
        "/api/v1/search", query_string={"q": query, "type": kind}
    )
    assert response.status_code == 200, await response.get_data()
    return await response.get_json()


async def rescore(chirp: Chirp) -> None:
    for table in chirp.services.trending.tables:
        await chirp.services.trending.rescore(table)


async def first_life(chirp: Chirp) -> tuple[dict[str, Any], dict[str, Any]]:
    written = await write_everything(chirp)
    await settled(chirp)
    await rescore(chirp)
    before = await picture(chirp, written)
    assert before["trending global"], "the test's tag trends"
    return written, before


@pytest.mark.parametrize("stop", ["clean", "crash"])
async def test_every_write_and_every_view_comes_back_after_a_restart(
    tmp_path: Path, stop: str
) -> None:
    settings = fast_settings(data_dir=tmp_path)
    if stop == "clean":
        async with durable_chirp(settings) as chirp:
            written, before = await first_life(chirp)
    else:
        with crashing():
            async with durable_chirp(settings) as chirp:
                written, before = await first_life(chirp)
                # Nobody waits for a retention trim: wait here, so the state is exact.
                await chirp.stores.durable.settled()
                raise Crash
    async with durable_chirp(settings) as chirp:
        recovery = chirp.stores.durable.recovery
        assert recovery.snapshot_seq > 0
        assert recovery.replayed > 0 if stop == "crash" else recovery.replayed == 0
        after = await picture(chirp, written)
        assert after == before
        # And it carries on: a new tweet gets a higher id and reaches feeds and search.
        ana = await login(chirp, "ana")
        new = await call(chirp, "post", "/api/v1/tweet", ana, content=f"after #{TAG} gardens")
        assert int(new["tweet_id"]) > max(int(t) for t in written["tweets"])
        await picture(chirp, written)
        feed = await call(chirp, "get", "/api/v1/feed", await login(chirp, "bo"))
        assert feed["tweets"][0]["tweet_id"] == new["tweet_id"]
        found = await _search(chirp, "gardens", "tweets")
        assert new["tweet_id"] in [t["tweet_id"] for t in found["results"]]


def test_a_data_dir_is_refused_beside_servers_and_with_the_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="data_dir keeps the embedded stores"):
        Settings(data_dir=tmp_path, cache="redis://127.0.0.1:6379/0")
    assert main(["--data-dir", str(tmp_path), "--demo"]) == 2
    assert "it does not run with --data-dir" in capsys.readouterr().err
    env = {"CHIRP_DATA_DIR": str(tmp_path), "CHIRP_LOG": "redis://127.0.0.1:6379/0"}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main([]) == 2
    assert "data_dir keeps the embedded stores, but log is configured" in capsys.readouterr().err


def test_assembling_a_data_dir_needs_its_opened_backends(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="open_backends"):
        assemble(fast_settings(data_dir=tmp_path))


async def test_ids_keep_rising_across_a_restart_with_the_clock_set_back(tmp_path: Path) -> None:
    settings = fast_settings(data_dir=tmp_path)
    async with durable_chirp(settings) as chirp:
        _, headers = await sign_up(chirp, "ana")
        before = await call(chirp, "post", "/api/v1/tweet", headers, content="before")
    an_hour_ago = lambda: utc_now() - timedelta(hours=1)  # noqa: E731
    async with durable_chirp(settings, now=an_hour_ago) as chirp:
        headers = await login(chirp, "ana")
        after = await call(chirp, "post", "/api/v1/tweet", headers, content="after")
    assert int(after["tweet_id"]) > int(before["tweet_id"])
