"""The HTTP server as a supervised actor: hypercorn serving the app in the tree's nursery."""

from __future__ import annotations

import json
import logging
import math
import os
import socket
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

from actors import Actor
from chirp.api.problems import PROBLEM_JSON

logger = logging.getLogger("chirp.http")

#: The most of an unparsed request head hypercorn buffers (its default is 16 KiB). Well
#: above chirp's own limit on headers (`chirp.api.app.MAX_HEADER_BYTES`), so that a head
#: up to this size reaches the app and is refused with a problem+json 431; a bigger one
#: gets hypercorn's bare 431, and the connection closed.
HEAD_BUFFER_BYTES = 96 * 1024


#: What a request refused while draining is told to wait: by then this process is going
#: away, and another one (or this one restarted) takes requests again.
RETRY_AFTER_SECONDS = 1

_REFUSED_BODY = json.dumps(
    {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
        "detail": "chirp is shutting down and takes no new requests; retry in a moment",
    }
).encode()


class _Draining:
    """ASGI middleware: how a draining server treats requests and connections.

    Once draining has begun (``draining`` is set):

    - A request reaching the app is refused, not run: 503 problem+json with
      ``Retry-After`` and ``Connection: close``. This keeps the promise "each request
      either completes or is refused before it is accepted". Each of hypercorn's
      connections has an idle timer that closes it once hypercorn stops; a request read
      just then (hypercorn yields while stopping that timer) is still handed to the app,
      on a socket the timer has closed meanwhile. Run, it was applied and its answer lost:
      the client saw the connection close without a byte and could not know. Refused, it
      changed nothing.
    - Every response says ``Connection: close``, so a keep-alive client hangs up as soon
      as the last response is out instead of at the grace period's end.
    - An event stream (``text/event-stream``, which never ends by itself) is ended by
      `end_streams`: its handler is cancelled and the response finished cleanly, so a
      client reconnects elsewhere instead of the stream holding shutdown for the grace.
    - Requests cancelled unanswered (the grace ran out on them) are counted in
      `cut_short`.

    The last message of each response is sent shielded from cancellation. hypercorn closes
    a connection that must not be reused (the client asked to close, or sent a body the
    app never read, as with a 413 or a 408) from inside that send, after telling the app
    the request is over; quart-trio cancels the request's scope the moment it hears so,
    and that cancelled the close. The connection then stayed open until the client hung
    up, which a hostile client never does.
    """

    def __init__(self, app: Any, draining: trio.Event) -> None:
        self._app = app
        self._draining = draining
        self._streams: set[trio.CancelScope] = set()
        self.cut_short = 0
        #: When the shutdown grace runs out (set once draining begins): a handler cancelled
        #: before then was cancelled by its client hanging up, not cut short by the grace.
        self.grace_ends = math.inf

    def end_streams(self) -> None:
        """End every event stream being served (call once ``draining`` is set; a stream
        starting later ends as soon as its head is out)."""
        for stream in self._streams:
            stream.cancel()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        if self._draining.is_set():
            await self._refuse(receive, send)
            return
        answered = False
        stream = trio.CancelScope()

        async def send_closing(message: Any) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                if self._draining.is_set():
                    headers = [*message.get("headers", []), (b"connection", b"close")]
                    message = {**message, "headers": headers}
                await send(message)
                if _is_event_stream(message):
                    self._streams.add(stream)
                    if self._draining.is_set():
                        stream.cancel()
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                with trio.CancelScope(shield=True):
                    await send(message)
                answered = True
            else:
                await send(message)

        try:
            with stream:
                await self._app(scope, receive, send_closing)
            if stream.cancelled_caught and not answered:
                with trio.CancelScope(shield=True):
                    await send({"type": "http.response.body", "body": b""})
                answered = True
        except BaseException as exc:
            cut_off = trio.current_time() >= self.grace_ends
            if not answered and cut_off and _is_cancellation(exc):
                self.cut_short += 1
            raise
        finally:
            self._streams.discard(stream)

    @staticmethod
    async def _refuse(receive: Any, send: Any) -> None:
        # The body is read first: a socket closed with bytes unread is reset by the
        # kernel, and a reset can destroy the answer before the client reads it.
        message = await receive()
        while message["type"] == "http.request" and message.get("more_body"):
            message = await receive()
        headers = [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(_REFUSED_BODY)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            (b"connection", b"close"),
        ]
        with trio.CancelScope(shield=True):
            await send({"type": "http.response.start", "status": 503, "headers": headers})
            await send({"type": "http.response.body", "body": _REFUSED_BODY})


def _is_event_stream(start: Any) -> bool:
    return any(
        name.lower() == b"content-type" and value.split(b";")[0].strip() == b"text/event-stream"
        for name, value in start.get("headers", [])
    )


def _is_cancellation(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return exc.split(trio.Cancelled)[1] is None
    return isinstance(exc, trio.Cancelled)


def open_listener(host: str, port: int) -> socket.socket:
    """Bind and listen once, for the life of the process: a restarted HTTP actor serves the
    same socket, so the port (even one the OS picked for port 0) never changes hands."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
    except BaseException:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class HttpServer(Actor):
    """Serves ``app`` on ``listener`` until stopped. An orderly stop drains: no new
    connections are accepted (the caller closes its ``listener`` too, so connects are
    refused), idle connections are closed, a request arriving on an open connection is
    refused with a 503, and requests already in the app get ``grace`` seconds to finish;
    then they are cancelled, and a warning says how many were."""

    def __init__(self, app: QuartTrio, listener: socket.socket, *, grace: float) -> None:
        self._app = app
        self._listener = listener
        self._url = url_of(listener)  # the listener is closed first thing at shutdown
        self._grace = grace
        self._stop = trio.Event()
        self._serving: _Draining | None = None

    def request_stop(self) -> bool:
        self._stop.set()
        if self._serving is not None:
            self._serving.grace_ends = trio.current_time() + self._grace
            self._serving.end_streams()
        return True

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED
    ) -> None:
        config = Config()
        # hypercorn closes what it serves when it stops; it gets a duplicate, so the
        # process's listening socket stays open for the next incarnation.
        config.bind = [f"fd://{os.dup(self._listener.fileno())}"]
        config.graceful_timeout = self._grace
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")
        config.include_server_header = False
        config.h11_max_incomplete_size = HEAD_BUFFER_BYTES
        app = self._serving = _Draining(self._app, self._stop)
        try:
            await serve(app, config, shutdown_trigger=self._stop.wait, task_status=task_status)
        finally:
            if app.cut_short:
                logger.warning(
                    "the shutdown grace of %g s ran out; requests cancelled unanswered "
                    "(applied or not): %d",
                    self._grace,
                    app.cut_short,
                )

    def describe(self) -> dict[str, Any]:
        return {"url": self._url}
