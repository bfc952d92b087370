"""The HTTP server as a supervised actor: hypercorn serving the app in the tree's nursery."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from quart_trio import QuartTrio

from actors import Actor

#: The most of an unparsed request head hypercorn buffers (its default is 16 KiB). Well
#: above chirp's own limit on headers (`chirp.api.app.MAX_HEADER_BYTES`), so that a head
#: up to this size reaches the app and is refused with a problem+json 431; a bigger one
#: gets hypercorn's bare 431, and the connection closed.
HEAD_BUFFER_BYTES = 96 * 1024


class _ClosingConnections:
    """ASGI middleware: connections that should close do close.

    Once draining has begun, every response says ``Connection: close``, so a keep-alive
    client hangs up as soon as the last response is out instead of at the grace period's
    end.

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

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_closing(message: Any) -> None:
            if message["type"] == "http.response.start" and self._draining.is_set():
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"connection", b"close")],
                }
            if message["type"] == "http.response.body" and not message.get("more_body"):
                with trio.CancelScope(shield=True):
                    await send(message)
            else:
                await send(message)

        await self._app(scope, receive, send_closing)


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
    connections, in-flight requests get ``grace`` seconds to finish, then are cancelled."""

    def __init__(self, app: QuartTrio, listener: socket.socket, *, grace: float) -> None:
        self._app = app
        self._listener = listener
        self._url = url_of(listener)  # the listener is closed first thing at shutdown
        self._grace = grace
        self._stop = trio.Event()

    def request_stop(self) -> bool:
        self._stop.set()
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
        app = _ClosingConnections(self._app, self._stop)
        await serve(app, config, shutdown_trigger=self._stop.wait, task_status=task_status)

    def describe(self) -> dict[str, Any]:
        return {"url": self._url}
