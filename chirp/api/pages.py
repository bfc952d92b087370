"""The pages chirp serves itself: the web client at ``/`` and the dashboard at
``/dashboard``, with their scripts and styles under ``/static``.

The pages are static files holding no data and no secret: each fetches what it shows from
the API with the caller's own token (a user's, or the admin token for the dashboard), so
serving the page itself needs none. A strict Content-Security-Policy keeps them to chirp's
own scripts and connections: no inline script, nothing from another origin."""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, send_from_directory

STATIC = Path(__file__).parent / "static"
POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def pages_routes() -> Blueprint:
    routes = Blueprint("pages", __name__, static_folder=str(STATIC), static_url_path="/static")

    @routes.get("/")
    async def client() -> Response:
        return await _page("index.html")

    @routes.get("/dashboard")
    async def dashboard() -> Response:
        return await _page("dashboard.html")

    @routes.after_request
    async def harden(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return routes


async def _page(name: str) -> Response:
    response = await send_from_directory(STATIC, name)
    # Always the page of the running version; its assets are small and revalidated too.
    response.headers["Cache-Control"] = "no-cache"
    return response
