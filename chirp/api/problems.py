"""Every error answered as RFC 9457 ``application/problem+json``, including the framework's."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from quart import Quart, Response, request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as RoutingNotFound

from chirp.api.bodies import Invalid
from chirp.ratelimit import Decision
from chirp.services.errors import (
    Conflict,
    Forbidden,
    Malformed,
    NotFound,
    RuleBroken,
    ServiceError,
    Unauthorized,
    Unavailable,
)
from chirp.services.ratelimits import RateLimited

logger = logging.getLogger("chirp.api")

PROBLEM_JSON = "application/problem+json"

_STATUS_OF: dict[type[ServiceError], tuple[int, str]] = {
    Malformed: (400, "Bad Request"),
    RuleBroken: (422, "Unprocessable Content"),
    NotFound: (404, "Not Found"),
    Conflict: (409, "Conflict"),
    Unauthorized: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    Unavailable: (503, "Service Unavailable"),
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> Response:
    """A problem+json response. ``type`` stays ``about:blank``: the status says what kind
    of problem it is and ``detail`` says what to do about it."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    body.update(extensions)
    response = Response(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def install_problem_handlers(app: Quart) -> None:
    """Route every error through `problem`: service errors, HTTP errors raised by the
    framework (404 for unknown paths, 405, 413…), and anything unexpected (500, logged with
    the request line, answered without internals)."""

    @app.errorhandler(ServiceError)
    async def service_error(error: ServiceError) -> Response:
        status, title = _STATUS_OF.get(type(error), (400, "Bad Request"))
        headers: dict[str, str] = {}
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = 'Bearer realm="chirp"'
        if isinstance(error, Unavailable):
            headers["Retry-After"] = str(error.retry_after)
        return problem(status, title, str(error), headers=headers)

    @app.errorhandler(RateLimited)
    async def rate_limited(error: RateLimited) -> Response:
        headers = rate_limit_headers_for(error.decision)
        headers["Retry-After"] = str(max(1, math.ceil(error.decision.retry_after)))
        return problem(429, "Too Many Requests", str(error), headers=headers)

    @app.errorhandler(Invalid)
    async def invalid_body(error: Invalid) -> Response:
        return problem(422, "Unprocessable Content", str(error), errors=error.errors)

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        detail = _HTTP_DETAILS.get(status) or error.description or error.name
        if status == 404 and error.description == RoutingNotFound.description:
            detail = f"no resource at {request.path}"  # routing's 404; ours say more
        elif status == 405:
            allowed = headers.get("Allow", "another method")
            detail = f"{request.method} is not allowed on {request.path}; use {allowed}"
        return problem(status, error.name, detail, headers=headers)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return problem(500, "Internal Server Error", "chirp hit an unexpected error; it is logged")


def rate_limit_headers_for(decision: Decision) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(math.ceil(decision.reset_after)),
    }


_HTTP_DETAILS = {
    408: "the request body did not arrive in time; send it in one go",
    413: "the request body is larger than this server accepts",
    431: "the request headers are larger than this server accepts",
}
