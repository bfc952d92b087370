"""The QuartTrio application: routes per resource, no business rules."""

from __future__ import annotations

import time
from typing import Any

from quart import Response, g, request
from quart_trio import QuartTrio
from werkzeug.exceptions import NotFound, RequestEntityTooLarge, RequestHeaderFieldsTooLarge

from chirp.services import Services

from .auth import auth_routes
from .clients import ClientAddress
from .identity import bearer_token, current_user
from .json_provider import OrjsonProvider
from .notifications import notifications_routes
from .openapi import openapi_routes
from .operations import UNLIMITED_PATHS, operations_routes
from .pages import pages_routes
from .problems import install_problem_handlers, rate_limit_headers_for
from .search import search_routes
from .trending import trending_routes
from .tweets import tweets_routes
from .users import users_routes

SIGN_IN_PATHS = frozenset({"/api/v1/auth/token", "/api/v1/users"})
#: Header names and values together: the 16 KiB hypercorn allowed a whole head by default.
MAX_HEADER_BYTES = 16 * 1024


def create_app(
    services: Services,
    *,
    max_body_bytes: int = 64 * 1024,
    trusted_proxies: list[str] | None = None,
) -> QuartTrio:
    app = QuartTrio("chirp", static_folder=None)  # chirp.api.pages serves /static
    client_address = ClientAddress(trusted_proxies or [])
    app.config["MAX_CONTENT_LENGTH"] = max_body_bytes
    app.json = OrjsonProvider(app)
    install_problem_handlers(app)

    @app.before_request
    async def start_clock() -> None:
        g.started = time.perf_counter()

    @app.after_request
    async def measure(response: Response) -> Response:
        # By route pattern, not path: a label per tweet id would grow without bound.
        rule = request.url_rule
        route = rule.rule if rule is not None else "unmatched"
        started = g.get("started", time.perf_counter())
        services.metrics.observe(
            route, request.method, response.status_code, time.perf_counter() - started
        )
        return response

    @app.url_value_preprocessor
    def ids_within_63_bits(endpoint: str | None, values: dict[str, Any] | None) -> None:
        # Every integer in chirp's paths is an id, held in 63 bits: a larger one names
        # nothing, and PostgreSQL would refuse it as out of range (a 500). Checked here,
        # not by the route's converter: werkzeug answers a converter's refusal with a 405
        # when another method's route has the same path.
        if any(isinstance(v, int) and v >= 1 << 63 for v in (values or {}).values()):
            raise NotFound(f"no resource at {request.path}")

    @app.before_request
    async def refuse_oversized_requests() -> None:
        # 431 (RFC 6585) from here rather than from hypercorn, whose refusal has no body:
        # chirp.http_server lets heads well past this limit through to be answered here.
        header_bytes = sum(len(name) + len(value) for name, value in request.headers.items())
        if header_bytes > MAX_HEADER_BYTES:
            raise RequestHeaderFieldsTooLarge()
        # Quart enforces the limit only when a handler reads the body; refuse a declared
        # oversize body up front, whatever the route. (Undeclared, chunked bodies are cut
        # off at the limit when read.)
        length = request.content_length
        if length is not None and length > max_body_bytes:
            raise RequestEntityTooLarge()

    @app.before_request
    async def rate_limit() -> None:
        """The gateway's limits: every request counts against its address, and every
        signed-in call against its user too. The tightest answers in the headers."""
        if request.path in UNLIMITED_PATHS:
            return
        g.rate_limit = await services.limits.request_from(client_address())
        # /admin carries the admin token, not a user's: only the API's callers are users.
        # Signing in and up take no user token: a stale one sent along must not block them.
        if (
            request.path.startswith("/api/")
            and request.path not in SIGN_IN_PATHS
            and bearer_token() is not None
        ):
            user_id = await current_user(services.users)
            g.active_user = user_id
            user_decision = await services.limits.call_by(user_id)
            if user_decision.remaining < g.rate_limit.remaining:
                g.rate_limit = user_decision

    @app.after_request
    async def record_activity(response: Response) -> Response:
        # The fan-out's "active lately", recorded after the request: a feed read then
        # still sees whether its reader was away, and regenerates for one who was.
        user_id = g.get("active_user")
        if user_id is not None:
            await services.users.seen(user_id)
        return response

    @app.after_request
    async def rate_limit_headers(response: Response) -> Response:
        decision = g.get("rate_limit")
        # A 429 already names the bucket that refused it.
        if decision is not None and "X-RateLimit-Limit" not in response.headers:
            response.headers.update(rate_limit_headers_for(decision))
        return response

    app.register_blueprint(pages_routes())
    app.register_blueprint(
        operations_routes(services.operations, services.metrics, services.dashboard)
    )
    app.register_blueprint(auth_routes(services.users, services.limits))
    app.register_blueprint(users_routes(services.users))
    app.register_blueprint(tweets_routes(services))
    app.register_blueprint(trending_routes(services.trending))
    app.register_blueprint(search_routes(services.search, services.users))
    app.register_blueprint(notifications_routes(services.notifications, services.users))
    app.register_blueprint(openapi_routes())
    return app
