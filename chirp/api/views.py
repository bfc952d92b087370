"""How records look in JSON: the field names are part of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chirp.services.users import UserView


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC, to the millisecond, with a Z."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_json(view: UserView, *, private: bool = False) -> dict[str, Any]:
    """A user; ``private`` adds what only its owner may see (the email)."""
    user = view.user
    body: dict[str, Any] = {
        "user_id": user.user_id,
        "username": user.username,
        "display_name": user.display_name,
        "bio": user.bio,
        "profile_image_url": user.profile_image_url,
        "follower_count": view.follower_count,
        "following_count": view.following_count,
        "tweet_count": view.tweet_count,
        "verified": user.verified,
        "created_at": timestamp(user.created_at),
    }
    if private:
        body["email"] = user.email
    return body
