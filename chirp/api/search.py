"""Search: public; tweets, users or hashtags."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from werkzeug.exceptions import BadRequest

from chirp.services.search import SearchService
from chirp.services.users import UserService

from . import paging
from .identity import viewer
from .views import tweet_json, user_json

KINDS = ("tweets", "users", "hashtags")


def search_routes(search: SearchService, users: UserService) -> Blueprint:
    routes = Blueprint("search", __name__, url_prefix="/api/v1")

    @routes.get("/search")
    async def find() -> dict[str, Any]:
        kind = request.args.get("type", "tweets")
        if kind not in KINDS:
            raise BadRequest(f"type is one of {', '.join(KINDS)}")
        results = await search.search(
            request.args.get("q", ""),
            kind,  # type: ignore[arg-type]
            limit=paging.limit(),
            cursor=paging.cursor(),
            viewer=await viewer(users),
        )
        if results.kind == "tweets":
            shown = [tweet_json(v) for v in results.found]  # type: ignore[arg-type]
        elif results.kind == "users":
            shown = [user_json(v) for v in results.found]  # type: ignore[arg-type]
        else:
            shown = [{"hashtag": t, "tweet_count": n} for t, n in results.found]  # type: ignore[misc]
        return {
            "type": results.kind,
            "query": results.query,
            "results": shown,
            "next_cursor": paging.next_cursor(results.next_cursor),
        }

    return routes
