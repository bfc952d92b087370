"""Attacks on the wire, against hypercorn serving chirp on 127.0.0.1: chunked and oversize
bodies, slow-drip bodies, huge and malformed heads, bytes that are not UTF-8."""

from __future__ import annotations

import json

import pytest
import trio

from chirp.server import Running

from .helpers import connect, exchange, nothing_written, read_answer

NEW_USER = json.dumps(
    {"username": "zed", "email": "zed@example.org", "password": "correct horse battery"}
).encode()


def head(method: str, path: str, *lines: str) -> bytes:
    """A request head; characters past ASCII are sent as the single bytes they stand for."""
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *lines, "", ""]).encode(
        "latin-1"
    )


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def sign_up_head(*lines: str) -> bytes:
    return head("POST", "/api/v1/users", "Content-Type: application/json", *lines)


async def nobody_signed_up(running: Running) -> None:
    response = await running.chirp.app.test_client().get("/api/v1/users?username=zed")
    assert response.status_code == 404


async def test_a_chunked_body_over_the_limit_is_413(served: Running) -> None:
    # Valid JSON, 80 KiB of it whitespace: refused for its size alone.
    async with nothing_written(served.chirp):
        answer = await exchange(
            served.url,
            sign_up_head("Transfer-Encoding: chunked", "Connection: close"),
            chunk(NEW_USER[:-1]),
            *[chunk(b" " * 16 * 1024)] * 5,
            chunk(b"}"),
            b"0\r\n\r\n",
        )
    answer.problem(413)
    await nobody_signed_up(served)


async def test_a_declared_oversize_body_is_refused_unread_and_the_connection_closed(
    served: Running,
) -> None:
    # No "Connection: close": the server hangs up by itself, or a client that never sends
    # the gigabyte it announced would hold the connection open for ever.
    async with nothing_written(served.chirp):
        answer = await exchange(served.url, sign_up_head(f"Content-Length: {1 << 30}"))
    answer.problem(413)
    assert answer.closed
    await nobody_signed_up(served)


async def test_a_slow_drip_body_is_408_once_the_body_deadline_passes(
    served: Running, autojump_clock: trio.testing.MockClock
) -> None:
    started = trio.current_time()
    async with nothing_written(served.chirp):
        with trio.fail_after(600):
            async with await connect(served.url) as stream, trio.open_nursery() as dripping:

                async def drip() -> None:
                    # A byte every 5 s: never idle for long, never done.
                    await stream.send_all(sign_up_head(f"Content-Length: {len(NEW_USER)}"))
                    for byte in NEW_USER[:-1]:
                        try:
                            await stream.send_all(bytes([byte]))
                        except trio.BrokenResourceError:
                            return
                        await trio.sleep(5)

                dripping.start_soon(drip)
                answer = await read_answer(stream)
                dripping.cancel_scope.cancel()
    answer.problem(408)
    assert answer.closed
    # Quart's BODY_TIMEOUT: the whole body within 60 s, however it trickles.
    assert 60 <= trio.current_time() - started < 65
    await nobody_signed_up(served)


async def test_64_kib_of_headers_is_431_and_the_server_serves_on(served: Running) -> None:
    big = "X-Padding: " + "a" * 64 * 1024
    async with nothing_written(served.chirp):
        answer = await exchange(
            served.url,
            sign_up_head(big, f"Content-Length: {len(NEW_USER)}", "Connection: close"),
            NEW_USER,
        )
    answer.problem(431)
    await nobody_signed_up(served)
    healthy = await exchange(served.url, head("GET", "/healthz", "Connection: close"))
    assert (healthy.status, healthy.body) == (200, b'{"status":"ok"}')


async def test_a_head_past_the_parsers_buffer_is_431_and_closed(served: Running) -> None:
    # hypercorn refuses it before there is a request for chirp to answer: a bare 431.
    many = [f"X-Padding-{n}: " + "a" * 8000 for n in range(128)]  # 1 MiB
    async with nothing_written(served.chirp):
        answer = await exchange(served.url, head("GET", "/api/v1/users/1", *many))
    assert (answer.status, answer.body, answer.closed) == (431, b"", True)


async def test_invalid_utf8_on_the_wire_is_400(served: Running) -> None:
    body = NEW_USER.replace(b"zed@", b"z\xff\xfe@")
    async with nothing_written(served.chirp):
        answer = await exchange(
            served.url, sign_up_head(f"Content-Length: {len(body)}", "Connection: close"), body
        )
    assert "UTF-8" in answer.problem(400)["detail"]
    await nobody_signed_up(served)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/users?username=%FF%FE", 404),
        ("/api/v1/tweet/%FF%FE", 404),
        ("/api/v1/hashtag/%ED%A0%80", 422),  # an encoded lone surrogate
    ],
)
async def test_percent_encoded_bytes_that_are_not_utf8_are_problems(
    served: Running, path: str, status: int
) -> None:
    async with nothing_written(served.chirp):
        answer = await exchange(served.url, head("GET", path, "Connection: close"))
    answer.problem(status)


@pytest.mark.parametrize(
    "request_head",
    [
        head("GET", "/api/v1/users/\xff"),  # a raw byte outside ASCII in the target
        head("GET", "/api/v1/users/me", "Authorization: Bearer a\x00b"),  # a NUL in a header
        head("POST", "/api/v1/users", "Content-Length: -1"),
        head("POST", "/api/v1/users", "Content-Length: 5", "Content-Length: 6"),
    ],
)
async def test_heads_that_are_not_http_are_400_and_closed(
    served: Running, request_head: bytes
) -> None:
    # Refused by the HTTP parser, before there is a request to answer with a problem.
    async with nothing_written(served.chirp):
        answer = await exchange(served.url, request_head)
    assert (answer.status, answer.body, answer.closed) == (400, b"", True)


async def test_a_head_that_never_ends_is_dropped(
    served: Running, autojump_clock: trio.testing.MockClock
) -> None:
    with trio.fail_after(60):
        async with await connect(served.url) as stream:
            await stream.send_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            # hypercorn's keep-alive timeout (5 s) also bounds an unfinished head.
            assert await stream.receive_some() == b""
