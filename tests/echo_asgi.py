"""A bare ASGI app for the load drivers' tests, served by hypercorn's trio worker:

- ``POST *``: 201, ``{"length": n}``; the body is recorded;
- ``GET /slow?ms=N``: 200 after N ms;
- ``GET /chunked``: 200 with a chunked body (no Content-Length);
- ``GET /close``: 200, then the server closes the connection;
- ``GET /stats``: what was seen since the last ``POST /reset`` (neither is counted);
- any other ``GET``: 200 with a fixed JSON body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import trio

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HELLO = json.dumps({"hello": "world", "items": list(range(20))}).encode()
JSON = [(b"content-type", b"application/json")]

seen: dict[str, Any] = {"requests": 0, "bodies": []}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


async def respond(send: Send, status: int, body: bytes, headers: list[Any] = JSON) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def http(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_body(receive)
    method, path = scope["method"], scope["path"]
    if path == "/stats":
        bodies = seen["bodies"]
        stats = {"requests": seen["requests"], "distinct": len(set(bodies)), "bodies": bodies}
        await respond(send, 200, json.dumps(stats).encode())
        return
    if path == "/reset":
        seen["requests"], seen["bodies"] = 0, []
        await respond(send, 200, b"{}")
        return
    seen["requests"] += 1
    if method == "POST":
        seen["bodies"].append(body.decode())
        await respond(send, 201, json.dumps({"length": len(body)}).encode())
    elif path == "/slow":
        query = parse_qs(scope["query_string"].decode())
        await trio.sleep(int(query.get("ms", ["100"])[0]) / 1000)
        await respond(send, 200, HELLO)
    elif path == "/chunked":
        await send({"type": "http.response.start", "status": 200, "headers": JSON})
        for part in (b'{"parts": ', b"[1, 2, 3]", b"}"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    elif path == "/close":
        await respond(send, 200, HELLO, [*JSON, (b"connection", b"close")])
    else:
        await respond(send, 200, HELLO)
