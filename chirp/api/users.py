"""``/api/v1/users``: accounts, profiles, follows."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, request
from werkzeug.exceptions import BadRequest

from chirp.model import MAX_BIO, MAX_DISPLAY_NAME
from chirp.services.users import MAX_PASSWORD, MIN_PASSWORD, UserService
from chirp.text import USERNAME

from . import paging
from .bodies import StrictModel, json_body, ruled
from .identity import current_user
from .views import user_json


class NewUser(StrictModel):
    username: str = ruled(pattern=f"^{USERNAME.pattern}$")
    email: str = ruled(format="email", maxLength=254)
    password: str = ruled(minLength=MIN_PASSWORD, maxLength=MAX_PASSWORD)
    display_name: str | None = ruled(None, minLength=1, maxLength=MAX_DISPLAY_NAME)


class ProfileChanges(StrictModel):
    display_name: str | None = ruled(None, minLength=1, maxLength=MAX_DISPLAY_NAME)
    bio: str | None = ruled(None, maxLength=MAX_BIO)
    profile_image_url: str | None = None
    region: str | None = None


def users_routes(users: UserService) -> Blueprint:
    routes = Blueprint("users", __name__, url_prefix="/api/v1/users")

    @routes.post("")
    async def register() -> tuple[dict[str, Any], int]:
        body = await json_body(NewUser)
        view, tokens = await users.register(
            username=body.username,
            email=body.email,
            password=body.password,
            display_name=body.display_name,
        )
        return {
            "user": user_json(view, private=True),
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "token_type": tokens.token_type,
            "expires_in": tokens.expires_in,
        }, 201

    @routes.get("")
    async def by_username() -> dict[str, Any]:
        username = request.args.get("username")
        if username is None:
            raise BadRequest("give ?username=NAME")
        return user_json(await users.find(username))

    @routes.get("/me")
    async def me() -> dict[str, Any]:
        return user_json(await users.view(await current_user(users)), private=True)

    @routes.patch("/me")
    async def update_me() -> dict[str, Any]:
        user_id = await current_user(users)
        changes = await json_body(ProfileChanges)
        view = await users.update_profile(
            user_id,
            display_name=changes.display_name,
            bio=changes.bio,
            profile_image_url=changes.profile_image_url,
            region=changes.region,
        )
        return user_json(view, private=True)

    @routes.get("/<int:user_id>")
    async def profile(user_id: int) -> dict[str, Any]:
        return user_json(await users.view(user_id))

    @routes.post("/<int:user_id>/follow")
    async def follow(user_id: int) -> dict[str, Any]:
        await users.follow(await current_user(users), user_id)
        return {"following": True}

    @routes.delete("/<int:user_id>/follow")
    async def unfollow(user_id: int) -> dict[str, Any]:
        await users.unfollow(await current_user(users), user_id)
        return {"following": False}

    @routes.get("/<int:user_id>/relationship")
    async def relationship(user_id: int) -> dict[str, Any]:
        """The caller's relationship to ``user_id``: {following, followed_by}."""
        return await users.relationship(await current_user(users), user_id)

    @routes.get("/<int:user_id>/followers")
    async def followers(user_id: int) -> dict[str, Any]:
        views, position = await users.followers(
            user_id, limit=paging.limit(), before=paging.cursor()
        )
        return {"users": [user_json(v) for v in views], "next_cursor": paging.next_cursor(position)}

    @routes.get("/<int:user_id>/following")
    async def following(user_id: int) -> dict[str, Any]:
        views, position = await users.following(
            user_id, limit=paging.limit(), before=paging.cursor()
        )
        return {"users": [user_json(v) for v in views], "next_cursor": paging.next_cursor(position)}

    return routes
