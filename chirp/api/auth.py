"""``POST /api/v1/auth/token``: the OAuth2 token endpoint (password and refresh grants)."""

from __future__ import annotations

from typing import Any, Literal

from quart import Blueprint, request
from werkzeug.exceptions import UnsupportedMediaType

from chirp.services.auth import Tokens
from chirp.services.ratelimits import RateLimitService
from chirp.services.users import UserService

from .bodies import StrictModel, parse_json, validate

FORM = "application/x-www-form-urlencoded"


class PasswordGrant(StrictModel):
    grant_type: Literal["password"] = "password"
    username: str
    password: str
    # OAuth2 clients send these; chirp has one scope and public clients.
    scope: str | None = None
    client_id: str | None = None


class RefreshGrant(StrictModel):
    grant_type: Literal["refresh_token"]
    refresh_token: str
    scope: str | None = None
    client_id: str | None = None


def auth_routes(users: UserService, limits: RateLimitService) -> Blueprint:
    routes = Blueprint("auth", __name__, url_prefix="/api/v1/auth")

    @routes.post("/token")
    async def token() -> dict[str, Any]:
        """JSON ``{username, password}`` or an OAuth2 form with ``grant_type=password``;
        ``grant_type=refresh_token`` with ``refresh_token`` renews."""
        if request.mimetype == FORM:
            fields: Any = dict((await request.form).items())
        elif request.mimetype == "application/json":
            fields = parse_json(await request.get_data(cache=True))
        else:
            raise UnsupportedMediaType("send application/json or an OAuth2 form")
        is_refresh = isinstance(fields, dict) and fields.get("grant_type") == "refresh_token"
        grant = validate(RefreshGrant if is_refresh else PasswordGrant, fields)
        if isinstance(grant, RefreshGrant):
            tokens = await users.refresh(grant.refresh_token)
        else:
            await limits.login_as(grant.username)  # before the costly password check
            tokens = await users.login(grant.username, grant.password)
        return _tokens_json(tokens)

    return routes


def _tokens_json(tokens: Tokens) -> dict[str, Any]:
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "token_type": tokens.token_type,
        "expires_in": tokens.expires_in,
    }
