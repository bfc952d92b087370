"""The HTTP ceilings chirp's figures are divided by, each served by a process of its own.

  quart      the stack chirp runs on (hypercorn + quart-trio, configured as
             `chirp.http_server.HttpServer` configures it) answering a constant: GET
             /const/N with a JSON body of N bytes (the size of the chirp answer it stands
             for), POST by parsing the JSON body and answering 201. Nothing of chirp's
             runs: this is what the stack itself costs.
  starlette  the mainstream asyncio stack (uvicorn with uvloop and httptools, starlette)
             answering the same constant: what the choice of stack costs.

``python -m bench.ceilings quart|starlette --port P`` serves until killed and prints
``listening on URL`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import socket
import sys
from functools import partial
from typing import Any

STACKS = ("quart", "starlette")
POST_PATH = "/api/v1/tweet"


def const_path(size: int) -> str:
    return f"/const/{size}"


@functools.cache
def constant_body(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least a few), shaped like a page; made
    once per size, so serving it costs the stack and nothing else."""
    skeleton = b'{"tweets":[],"next_cursor":null,"pad":""}'
    return skeleton[:-2] + b"x" * max(0, size - len(skeleton)) + b'"}'


def quart_app() -> Any:
    from quart import Response, request
    from quart_trio import QuartTrio

    app = QuartTrio("ceiling")

    @app.get("/const/<int:size>")
    async def page(size: int) -> Response:
        return Response(constant_body(size), content_type="application/json")

    @app.post(POST_PATH)
    async def post() -> Response:
        parsed = await request.get_json()
        created = json.dumps({"created": len(parsed.get("content", ""))}).encode()
        return Response(created, status=201, content_type="application/json")

    return app


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def page(request: Request) -> Response:
        return Response(constant_body(request.path_params["size"]), media_type="application/json")

    async def post(request: Request) -> Response:
        parsed = json.loads(await request.body())
        created = json.dumps({"created": len(parsed.get("content", ""))}).encode()
        return Response(created, status_code=201, media_type="application/json")

    return Starlette(
        routes=[Route("/const/{size:int}", page), Route(POST_PATH, post, methods=["POST"])]
    )


def listener(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


def serve_quart(sock: socket.socket) -> None:
    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.include_server_header = False

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(serve, quart_app(), config))
            announce(sock)

    trio.run(main)


def serve_starlette(sock: socket.socket) -> None:
    import uvicorn

    class Announcing(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets=sockets)
            announce(sock)

    config = uvicorn.Config(
        starlette_app(),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        server_header=False,
        date_header=True,
    )
    Announcing(config).run(sockets=[sock])


def announce(sock: socket.socket) -> None:
    host, port = sock.getsockname()[:2]
    print(f"listening on http://{host}:{port}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceilings", description=__doc__)
    parser.add_argument("stack", choices=STACKS)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sock = listener(args.port)
    if args.stack == "quart":
        serve_quart(sock)
    else:
        serve_starlette(sock)


if __name__ == "__main__":
    sys.exit(main())
