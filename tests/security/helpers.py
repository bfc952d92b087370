"""What every attack case asserts: the exact status, a problem+json body, nothing written."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import trio

from chirp.server import Chirp

PROBLEM_JSON = "application/problem+json"
JSON = {"Content-Type": "application/json"}
PASSWORD = "correct horse battery"  # what tests.api.conftest.sign_up gives everyone


def problem_in(status: int, content_type: str, body: bytes, expected: int) -> dict[str, Any]:
    """The RFC 9457 problem in an answer that must be one, with status ``expected``."""
    assert status == expected, body[:500]
    assert content_type == PROBLEM_JSON, (content_type, body[:200])
    problem = json.loads(body)
    assert set(problem) >= {"type", "title", "status", "detail"}, problem
    assert problem["status"] == expected
    assert isinstance(problem["detail"], str) and problem["detail"], problem
    return problem


async def assert_problem(response: Any, expected: int) -> dict[str, Any]:
    """``response`` (from ``app.test_client()``) is a problem with status ``expected``."""
    body = await response.get_data()
    return problem_in(response.status_code, response.content_type, body, expected)


async def writes(chirp: Chirp) -> dict[str, int]:
    """Events published per topic. Every write chirp accepts is published (README, "Bad
    input"), so these not moving means nothing was written."""
    return {topic: sum(await chirp.log.end_offsets(topic)) for topic in chirp.settings.partitions}


@asynccontextmanager
async def nothing_written(chirp: Chirp) -> AsyncIterator[None]:
    before = await writes(chirp)
    yield
    assert await writes(chirp) == before


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


@dataclass(frozen=True)
class Answer:
    """An HTTP/1.1 response read off a socket, and whether the server then hung up."""

    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool

    def problem(self, expected: int) -> dict[str, Any]:
        return problem_in(self.status, self.headers.get("content-type", ""), self.body, expected)


async def connect(url: str) -> trio.SocketStream:
    """A connection to chirp at ``url``, which is on the loopback interface."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    assert host == "127.0.0.1"
    return await trio.open_tcp_stream(host, int(port))


async def exchange(url: str, *parts: bytes, limit: float = 30.0) -> Answer:
    """Send ``parts`` on a fresh connection to ``url`` (127.0.0.1), read the answer, then
    wait for the server to close the connection. A part the server refuses to take (it
    answered and hung up first) is not an error. ``limit`` is a hang guard."""
    with trio.fail_after(limit):
        async with await connect(url) as stream:
            for part in parts:
                try:
                    await stream.send_all(part)
                except trio.BrokenResourceError:
                    break
            return await read_answer(stream)


async def read_answer(stream: trio.SocketStream) -> Answer:
    """The response on ``stream``, then whether the server hung up (it waits for that)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = await _receive(stream)
        assert chunk, f"the server hung up without answering: {received[:200]!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", "0")):
        chunk = await _receive(stream)
        assert chunk, "the server hung up in the middle of its answer"
        body += chunk
    rest = await _receive(stream)  # the hang guard ends this if the server keeps it open
    return Answer(int(status_line.split()[1]), headers, body, closed=rest == b"")


async def _receive(stream: trio.SocketStream) -> bytes:
    try:
        return await stream.receive_some()
    except trio.BrokenResourceError:  # reset: it closed with our unread bytes pending
        return b""
