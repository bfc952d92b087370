"""Operational endpoints: /healthz, /readyz, /metrics, /admin/actors."""

from __future__ import annotations

import math
from typing import Any

from quart import Blueprint, Response

from chirp.services.dashboard import DashboardService
from chirp.services.metrics import CONTENT_TYPE, MetricsService
from chirp.services.operations import OperationsService

from .identity import bearer_token
from .problems import problem

#: Probes and scrapes: never rate-limited, so a busy gateway still answers its monitors.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def operations_routes(
    operations: OperationsService, metrics: MetricsService, dashboard: DashboardService
) -> Blueprint:
    routes = Blueprint("operations", __name__)

    def require_admin() -> None:
        operations.authorize_admin(bearer_token())

    @routes.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """The process is alive and serving HTTP."""
        return {"status": "ok"}

    @routes.get("/readyz")
    async def readyz() -> dict[str, Any] | Response:
        """Every actor that should run is running. When not, which ones, and the crash
        loops among the causes: subtrees whose supervisor gave up, backing off."""
        missing = operations.unavailable()
        if not missing:
            return {"status": "ready"}
        loops = operations.crash_loops()
        if loops:
            names = ", ".join(loop["name"] for loop in loops)
            detail = (
                f"{len(missing)} actor(s) are down: {names} crashed more often than "
                "its restart intensity allows and is backing off"
            )
            wait = min(loop["restart_in"] for loop in loops)
        else:
            detail, wait = f"{len(missing)} actor(s) are not running yet; retry shortly", 1.0
        return problem(
            503,
            "Service Unavailable",
            detail,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
            unavailable=missing,
            crash_loops=loops,
        )

    @routes.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text format. Behind the admin token (a scrape config's
        ``authorization: {credentials: …}``): it names every actor and route."""
        require_admin()
        return Response(await metrics.render(), content_type=CONTENT_TYPE)

    @routes.get("/admin/dashboard")
    async def dashboard_figures() -> dict[str, Any]:
        """What the /dashboard page draws: the seed's panels as points over the last few
        minutes, and the actor tree with restarts."""
        require_admin()
        return await dashboard.view()

    @routes.get("/admin/actors")
    async def actor_tree() -> dict[str, Any]:
        require_admin()
        return operations.actor_tree()

    @routes.post("/admin/actors/<name>/kill")
    async def kill(name: str) -> tuple[dict[str, Any], int]:
        require_admin()
        return operations.kill(name), 202

    return routes
