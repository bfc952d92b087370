from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from typing import Any

import pytest
import trio

from chirp.config import Settings
from chirp.server import Chirp, assemble
from chirp.services.users import utc_now
from tests.backends import scratch_name
from tests.configurations import CLEANUP_TIMEOUT, production_backends, production_overrides
from tests.servers import Servers

#: The configurations every API test runs in, unless marked ``embedded_only``.
CONFIGURATIONS = ("embedded", "production")
#: The current test's production settings (None: embedded). Tests run one at a time, and
#: pytest-trio runs them in a context of their own, which a ContextVar would not reach.
_production: dict[str, dict[str, str] | None] = {"overrides": None}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marked = metafunc.definition.get_closest_marker("embedded_only")
    metafunc.parametrize("configuration", ["embedded"] if marked else CONFIGURATIONS, indirect=True)


@pytest.fixture(autouse=True)
def configuration(request: pytest.FixtureRequest, servers: Servers) -> Iterator[str]:
    """The configuration `running` assembles chirp in."""
    overrides = production_overrides(servers) if request.param == "production" else None
    _production["overrides"] = overrides
    yield request.param
    _production["overrides"] = None


ADMIN_TOKEN = "test-admin-token-0123456789"
SMALL_TOPICS = {
    "tweet_created": 4,
    "tweet_deleted": 2,
    "like_added": 2,
    "retweet_created": 2,
    "tweet_edited": 2,
    "like_removed": 2,
    "user_followed": 2,
    "user_unfollowed": 2,
    "user_changed": 2,
}


def fast_settings(**overrides: Any) -> Settings:
    """Settings for tests: small topics, and cheap password hashes (the tests make many
    accounts; the real cost is tested on its own)."""
    base: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN,
        "partitions": SMALL_TOPICS,
        "password_memory_kib": 64,
        "password_time_cost": 1,
    }
    return Settings(**(base | overrides))


async def running(
    nursery: trio.Nursery, *, now: Callable[[], datetime] = utc_now, **overrides: Any
) -> Chirp:
    """chirp assembled from `fast_settings`, its tree running in ``nursery``; requests go
    through ``chirp.app.test_client()`` (the real app, without sockets). ``now`` is the
    services' clock. In the production configuration its stores are the real servers',
    open until ``nursery`` ends."""
    production = _production["overrides"]
    if production is None:
        assembled = assemble(fast_settings(**overrides), now=now)
        await nursery.start(assembled.system.run)
        return assembled
    # A namespace per chirp: a test may run two side by side.
    settings = fast_settings(**(production | {"namespace": scratch_name("t")} | overrides))
    ended = trio.Event()
    nursery.start_soon(_set_when_cancelled, ended)
    return await nursery.start(partial(_run_on_servers, settings, now, ended))


async def _set_when_cancelled(ended: trio.Event) -> None:
    try:
        await trio.sleep_forever()
    finally:
        ended.set()


async def _run_on_servers(
    settings: Settings,
    now: Callable[[], datetime],
    ended: trio.Event,
    *,
    task_status: trio.TaskStatus[Chirp],
) -> None:
    """chirp on the real servers until ``ended``; then its tree stops in order while the
    clients still run, and only then are they closed. Shielded: the test's end cancels
    its nursery, and that would cut the clients' connections under actors still stopping."""
    with trio.CancelScope(shield=True):
        async with production_backends(settings) as backends:
            assembled = assemble(settings, now=now, backends=backends)
            async with trio.open_nursery() as tree:
                await tree.start(assembled.system.run)
                task_status.started(assembled)
                await ended.wait()
                with trio.move_on_after(CLEANUP_TIMEOUT):
                    await assembled.system.shutdown()
                tree.cancel_scope.cancel()


@pytest.fixture
async def chirp(nursery: trio.Nursery) -> Chirp:
    return await running(nursery)


def admin(token: str = ADMIN_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def sign_up(chirp: Chirp, username: str, **fields: str) -> tuple[int, dict[str, str]]:
    """A new account: its user id and the headers that act as it."""
    body = {
        "username": username,
        "email": f"{username}@example.org",
        "password": "correct horse battery",
        **fields,
    }
    response = await chirp.app.test_client().post("/api/v1/users", json=body)
    assert response.status_code == 201, await response.get_data()
    created = await response.get_json()
    return created["user"]["user_id"], {"Authorization": f"Bearer {created['access_token']}"}
