"""Operations: health, readiness, the actor tree and the chaos lever, behind the admin token."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from actors import ActorSystem, ActorUnavailable, NoSuchActor

from .errors import Conflict, Forbidden, NotFound, Unauthorized


class OperationsService:
    """What an operator may see and do. Every admin call checks the token first."""

    def __init__(
        self,
        system: ActorSystem,
        admin_token: str,
        *,
        unkillable: Mapping[str, str] | None = None,
    ) -> None:
        """``unkillable`` maps the names the admin API may not kill to the reason, given to
        whoever tries (the HTTP server cannot kill itself mid-request, say)."""
        self._system = system
        self._admin_token = admin_token.encode()
        self._unkillable = dict(unkillable or {})

    def authorize_admin(self, presented: str | None) -> None:
        """Raise `Unauthorized` without a token, `Forbidden` with a wrong one. Constant-time
        comparison, so response timing does not leak the token."""
        if not presented:
            raise Unauthorized("this endpoint needs the admin token as a Bearer token")
        if not hmac.compare_digest(presented.encode(), self._admin_token):
            raise Forbidden("the admin token presented is not valid")

    def unavailable(self) -> list[str]:
        """Actors that should be running and are not; empty when chirp is ready."""
        return self._system.unavailable()

    def crash_loops(self) -> list[dict[str, Any]]:
        """The subtrees down after giving up (more crashes than their intensity allows),
        each with how often it has, its last error and when it starts again."""
        return self._system.backing_off()

    def actor_tree(self) -> dict[str, Any]:
        """The actor tree, each node saying whether `kill` may kill it."""

        def mark(node: dict[str, Any]) -> dict[str, Any]:
            node["killable"] = node["name"] not in self._unkillable
            for child in node.get("children", ()):
                mark(child)
            return node

        return mark(self._system.tree())

    def kill(self, name: str) -> dict[str, Any]:
        """Kill ``name`` as if it crashed; its supervisor restarts it per its strategy."""
        if name in self._unkillable:
            raise Conflict(f"{name} cannot be killed through the API: {self._unkillable[name]}")
        try:
            self._system.kill(name)
        except NoSuchActor:
            raise NotFound(
                f"there is no actor named {name!r}; GET /admin/actors lists them"
            ) from None
        except ActorUnavailable:
            raise Conflict(f"{name} is not running, so it cannot be killed now") from None
        return {"name": name, "killed": True, "restarts": self._system.restarts(name)}
