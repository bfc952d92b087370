"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis).

Every documented operation but ``GET /api/v1/stream`` (server-sent events never end) is
called with schemathesis's generated requests: its explicit examples, its coverage cases
(boundaries, missing and wrong-typed values, other methods) and hypothesis fuzzing, valid
requests and deliberately invalid ones. Every answer must be no 5xx, a documented status,
of the documented content type, and match the documented schema.

One chirp serves over loopback for the whole module, run by trio on a thread of its own:
schemathesis calls through `requests` from the test's thread, and its in-process ASGI
transport would drive the app from an asyncio loop, which a quart-trio app cannot run on.
Path parameters are drawn from ids that exist (accounts, tweets and a hashtag seeded
first) as well as generated ones, so the fuzzing reaches past the 404s. Examples are
bounded and generation is derandomized: CI sends the same requests every run, bar the
seeded ids, which are Snowflakes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest
import schemathesis
import trio
from hypothesis import strategies as st

from chirp.api.openapi import OPERATIONS, openapi_document
from chirp.server import Running, serve

from .api.conftest import ADMIN_TOKEN, fast_settings

#: Fuzzing examples per operation, beyond the coverage phase's cases (a run of the whole
#: module took ~20 s on two busy cores).
EXAMPLES = 50
START_LIMIT = 30
#: Rate limits out of the way: thousands of requests from one user and address.
UNLIMITED = {
    "rate_calls_per_user": 1_000_000,
    "rate_tweets_per_user": 1_000_000,
    "rate_requests_per_ip": 1_000_000,
}
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]
ACCESS = {(op.method, op.path): op.access for op in OPERATIONS}

_config = schemathesis.Config()
_config.projects.default.generation.update(max_examples=EXAMPLES, deterministic=True)
schema = schemathesis.openapi.from_dict(openapi_document(), config=_config).exclude(
    path="/api/v1/stream"
)
#: Path parameter values that name something in the served chirp, by parameter name:
#: filled by the `served` fixture before any case is generated.
_existing: dict[str, list[Any]] = {}


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """The generated values, or one of them replaced by an id that exists."""
    choices = [path_parameters]
    for name in path_parameters or {}:
        choices += [{**path_parameters, name: value} for value in _existing.get(name, [])]
    return st.sampled_from(choices)


@dataclass(frozen=True)
class Served:
    url: str
    user_token: str


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    started: queue.Queue[Any] = queue.Queue()
    thread = threading.Thread(target=partial(_serve_on_thread, started), daemon=True)
    thread.start()
    answer = started.get(timeout=START_LIMIT)
    if isinstance(answer, BaseException):
        raise answer
    url, trio_token, stop = answer
    try:
        user_token, existing = _seed(url)
        _existing.update(existing)
        yield Served(url, user_token)
    finally:
        _existing.clear()
        trio.from_thread.run_sync(stop.set, trio_token=trio_token)
        thread.join(START_LIMIT)
        assert not thread.is_alive(), "chirp did not stop"


def _serve_on_thread(started: queue.Queue[Any]) -> None:
    """chirp on its own trio loop until the fixture sets the event it was handed."""

    async def main() -> None:
        stop = trio.Event()
        settings = fast_settings(port=0, **UNLIMITED)
        async with trio.open_nursery() as nursery:
            running: Running = await nursery.start(
                partial(serve, settings, shutdown_trigger=stop.wait)
            )
            started.put((running.url, trio.lowlevel.current_trio_token(), stop))

    try:
        trio.run(main)
    except BaseException as exc:  # handed to the fixture, which raises it
        started.put(exc)


def _seed(url: str) -> tuple[str, dict[str, list[Any]]]:
    """Two accounts that follow each other, tweets by both (a reply, a mention, a tag),
    a like. The fuzzer acts as the first account; the second's tweet is not its to edit."""
    with httpx.Client(base_url=url, timeout=START_LIMIT) as client:

        def post(path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
            return client.post(path, json=body, headers=headers).raise_for_status().json()

        accounts = [
            post(
                "/api/v1/users",
                {"username": name, "email": f"{name}@example.org", "password": "fuzz fuzz fuzz"},
            )
            for name in ("fuzzer", "someone")
        ]
        user_ids = [account["user"]["user_id"] for account in accounts]
        mine, theirs = (f"Bearer {account['access_token']}" for account in accounts)
        post(f"/api/v1/users/{user_ids[1]}/follow", Authorization=mine)
        post(f"/api/v1/users/{user_ids[0]}/follow", Authorization=theirs)
        tweet_ids = [
            post("/api/v1/tweet", {"content": content}, Authorization=author)["tweet_id"]
            for author, content in [
                (theirs, "hello @fuzzer #fuzz"),
                (mine, "first tweet #fuzz https://example.org"),
                (mine, "second tweet"),
            ]
        ]
        reply = {"content": "a reply", "reply_to_tweet_id": tweet_ids[0]}
        tweet_ids.append(post("/api/v1/tweet", reply, Authorization=mine)["tweet_id"])
        post(f"/api/v1/tweet/{tweet_ids[0]}/like", Authorization=mine)
    existing = {"user_id": user_ids, "tweet_id": tweet_ids, "tag": ["fuzz", "#fuzz"]}
    return mine.removeprefix("Bearer "), existing


@schema.parametrize()
def test_the_api_answers_as_documented(served: Served, case: schemathesis.Case) -> None:
    access = ACCESS[case.operation.method.upper(), case.operation.path]
    token = {"admin": ADMIN_TOKEN, "user": served.user_token, "anyone": served.user_token}
    headers = {"Authorization": f"Bearer {token[access]}"} if access in token else {}
    case.call_and_validate(base_url=served.url, headers=headers, checks=CHECKS)
