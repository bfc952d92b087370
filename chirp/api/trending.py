"""Trending hashtags: public, per region or category."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request

from chirp.services.trending import TrendingService

from . import paging
from .views import timestamp


def trending_routes(trending: TrendingService) -> Blueprint:
    routes = Blueprint("trending", __name__, url_prefix="/api/v1")

    @routes.get("/trending")
    async def top() -> dict[str, Any]:
        region = request.args.get("region", "global")
        answer = await trending.top(region, paging.limit(default=10, maximum=50))
        return answer | {"as_of": timestamp(answer["as_of"])}

    @routes.get("/trending/regions")
    async def tables() -> dict[str, Any]:
        """The regions and categories ``?region=`` accepts."""
        return trending.listing()

    return routes
