"""Who is asking: the Bearer token of the request."""

from __future__ import annotations

from quart import g, request

from chirp.services.errors import Forbidden, Unauthorized
from chirp.services.users import UserService


def bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def current_user(users: UserService) -> int:
    """The user id of the request's access token. Raises `Unauthorized` (401, with
    ``WWW-Authenticate``) when there is none or it is not valid."""
    user_id = g.get("user_id")
    if user_id is not None:
        return user_id
    token = bearer_token()
    if token is None:
        raise Unauthorized("sign in: send an access token as 'Authorization: Bearer …'")
    g.user_id = await users.authenticate(token)
    return g.user_id


async def viewer(users: UserService) -> int | None:
    """Who reads, for public reads: none without a token; a token sent must be valid, and
    personalises (liked, retweeted)."""
    return await current_user(users) if bearer_token() is not None else None


async def own_reader(users: UserService, what: str) -> int:
    """The caller, reading ``what`` only they may read (their home feed, their inbox). A
    ``userId`` naming anyone else is refused (403), not ignored: a client asking for
    someone else's must not be handed the caller's own as if it were theirs."""
    user_id = await current_user(users)
    asked = request.args.get("userId")
    if asked is not None and asked != str(user_id):
        raise Forbidden(f"you can read only your own {what}")
    return user_id
