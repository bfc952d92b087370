"""Accounts, logins and the follow graph."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chirp import model
from chirp.model import User
from chirp.text import TextError, plain
from storage.protocols import (
    ActivityStore,
    Duplicate,
    EventLog,
    GraphStore,
    LogUnavailable,
    TweetStore,
    UserStore,
)

from .auth import REFRESH, Passwords, TokenIssuer, Tokens
from .errors import Conflict, NotFound, RuleBroken, Unauthorized, Unavailable
from .locks import KeyedLocks, whole

MIN_PASSWORD, MAX_PASSWORD = 8, 256
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class UserView:
    """A user as others see them: the record and the counts derived from the stores."""

    user: User
    follower_count: int
    following_count: int
    tweet_count: int


def utc_now() -> datetime:
    return datetime.now(UTC)


class UserService:
    """Registration, login, profiles and follows. Every follow or unfollow that changes
    the graph is published (``user_followed`` / ``user_unfollowed``); if the log cannot take
    it, the change is undone and the caller told to retry, so the graph never holds an edge
    the rest of chirp was not told about."""

    def __init__(
        self,
        *,
        users: UserStore,
        graph: GraphStore,
        tweets: TweetStore,
        log: EventLog,
        passwords: Passwords,
        tokens: TokenIssuer,
        activity: ActivityStore,
        now: Callable[[], datetime] = utc_now,
        regions: Sequence[str] = ("global",),
    ) -> None:
        self._regions = tuple(regions)  # a user's region picks their trending table
        # One profile change at a time per user: each announces the whole profile, and
        # two interleaved would each announce the other's field as it was.
        self._profile_lock = KeyedLocks()
        self._users = users
        self._graph = graph
        self._tweets = tweets
        self._log = log
        self._passwords = passwords
        self._tokens = tokens
        self._activity = activity
        self._now = now

    async def register(
        self, *, username: str, email: str, password: str, display_name: str | None = None
    ) -> tuple[UserView, Tokens]:
        try:
            model.username(username)
            model.display_name(display_name if display_name is not None else username)
        except model.RuleError as exc:
            raise RuleBroken(str(exc)) from None
        if len(email) > 254 or not _EMAIL.fullmatch(email) or not email.isprintable():
            raise RuleBroken("the email address is not valid")
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            raise RuleBroken(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        try:
            plain(password, "the password")
        except TextError as exc:
            raise RuleBroken(str(exc)) from None
        if await self._users.find(username) is not None:
            raise Conflict("that username is taken")  # before the costly hash
        password_hash = await self._passwords.hash(password)
        with whole():
            try:
                user = await self._users.create(
                    username=username,
                    email=email,
                    password_hash=password_hash,
                    display_name=display_name if display_name is not None else username,
                    created_at=self._now(),
                )
            except Duplicate as exc:
                raise Conflict(f"that {exc.field} is taken") from None
            try:
                await self._announce_user(user)
            except Unavailable:
                await self._users.delete(user.user_id)
                raise
        return UserView(user, 0, 0, 0), self._tokens.issue(user.user_id)

    async def login(self, username: str, password: str) -> Tokens:
        """Tokens for the right password. Wrong name or wrong password cost the same and
        answer the same, so neither can be told from the other."""
        user = await self._users.find(username) if model.is_username(username) else None
        stored = await self._users.password_hash(user.user_id) if user else None
        if not await self._passwords.check(stored, password) or user is None or stored is None:
            raise Unauthorized("wrong username or password")
        if self._passwords.needs_rehash(stored):
            await self._users.set_password_hash(user.user_id, await self._passwords.hash(password))
        return self._tokens.issue(user.user_id)

    async def refresh(self, refresh_token: str) -> Tokens:
        user_id = self._tokens.user_of(refresh_token, kind=REFRESH)
        if await self._users.get(user_id) is None:
            raise Unauthorized("the account behind this token is gone")
        return self._tokens.issue(user_id)

    async def authenticate(self, access_token: str) -> int:
        """The user id an access token speaks for, if that user still exists. Raises
        `Unauthorized`."""
        user_id = self._tokens.user_of(access_token)
        if await self._users.get(user_id) is None:
            raise Unauthorized("the account behind this token is gone")
        return user_id

    async def seen(self, user_id: int) -> None:
        """Record that the user made an authenticated request just now."""
        await self._activity.touch(user_id, self._now().timestamp())

    async def active_among(self, user_ids: Iterable[int], window: timedelta) -> set[int]:
        """Those of ``user_ids`` seen within ``window``."""
        since = (self._now() - window).timestamp()
        return await self._activity.active_since(user_ids, since)

    async def view(self, user_id: int) -> UserView:
        views = await self.views([user_id])
        if not views:
            raise NotFound(f"there is no user {user_id}")
        return views[0]

    async def find(self, username: str) -> UserView:
        user = await self._users.find(username) if model.is_username(username) else None
        if user is None:
            raise NotFound(f"there is no user named {username[:20]!r}")
        return (await self._with_counts([user]))[0]

    async def views(self, user_ids: list[int]) -> list[UserView]:
        """The users that exist among ``user_ids``, in that order."""
        found = await self._users.get_many(user_ids)
        return await self._with_counts([found[i] for i in user_ids if i in found])

    async def update_profile(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        profile_image_url: str | None = None,
        region: str | None = None,
    ) -> UserView:
        if region is not None and region not in self._regions:
            raise RuleBroken(f"region is one of {', '.join(self._regions)}")
        try:
            if display_name is not None:
                model.display_name(display_name)
            if bio is not None:
                model.bio(bio)
            if profile_image_url is not None:
                model.profile_image_url(profile_image_url)
        except model.RuleError as exc:
            raise RuleBroken(str(exc)) from None
        changes = {
            name: value
            for name, value in (
                ("display_name", display_name),
                ("bio", bio),
                ("profile_image_url", profile_image_url),
                ("region", region),
            )
            if value is not None
        }
        async with self._profile_lock(user_id):
            current = await self._users.get(user_id)
            if current is None:
                raise NotFound(f"there is no user {user_id}")
            # Announced first, applied after: if the log is down nothing changes (503).
            with whole():
                await self._announce_user(replace(current, **changes))
                await self._users.update_profile(user_id, **changes)
        return await self.view(user_id)

    async def follow(self, follower_id: int, followee_id: int) -> None:
        if follower_id == followee_id:
            raise RuleBroken("you cannot follow yourself")
        await self.view(followee_id)
        with whole():
            if await self._graph.follow(follower_id, followee_id, self._now()):
                try:
                    await self._publish("user_followed", follower_id, followee_id)
                except Unavailable:
                    await self._graph.unfollow(follower_id, followee_id)
                    raise

    async def unfollow(self, follower_id: int, followee_id: int) -> None:
        await self.view(followee_id)
        with whole():
            followers = await self._graph.unfollow(follower_id, followee_id)
            if followers is not None:
                try:
                    # The fan-out learns from it which unfollow took a celebrity back under
                    # the pull threshold.
                    await self._publish(
                        "user_unfollowed", follower_id, followee_id, followers_after=followers
                    )
                except Unavailable:
                    await self._graph.follow(follower_id, followee_id, self._now())
                    raise

    async def relationship(self, viewer_id: int, user_id: int) -> dict[str, bool]:
        """Whether ``viewer_id`` follows ``user_id`` and whether ``user_id`` follows back:
        what a profile's Follow button and "Follows you" label need."""
        await self.view(user_id)
        return {
            "following": await self._graph.is_following(viewer_id, user_id),
            "followed_by": await self._graph.is_following(user_id, viewer_id),
        }

    async def followers(
        self, user_id: int, *, limit: int, before: int | None
    ) -> tuple[list[UserView], int | None]:
        await self.view(user_id)
        page = await self._graph.followers(user_id, limit=limit, before=before)
        return await self.views(page.items), page.next_cursor

    async def following(
        self, user_id: int, *, limit: int, before: int | None
    ) -> tuple[list[UserView], int | None]:
        await self.view(user_id)
        page = await self._graph.following(user_id, limit=limit, before=before)
        return await self.views(page.items), page.next_cursor

    async def _with_counts(self, users: list[User]) -> list[UserView]:
        ids = [u.user_id for u in users]
        graph_counts = await self._graph.counts(ids)
        tweet_counts = await self._tweets.tweet_counts(ids)
        return [UserView(u, *graph_counts[u.user_id], tweet_counts[u.user_id]) for u in users]

    async def _announce_user(self, user: User) -> None:
        """What search learns of an account, and the whole profile, which a start-up after
        a crash completes a profile change from (chirp/repair.py)."""
        event = {
            "user_id": user.user_id,
            "username": user.username,
            "display_name": user.display_name,
            "bio": user.bio,
            "profile_image_url": user.profile_image_url,
            "region": user.region,
        }
        await self._record("user_changed", user.user_id, event)

    async def _publish(self, topic: str, follower_id: int, followee_id: int, **extra: int) -> None:
        event = {
            "follower_id": follower_id,
            "followee_id": followee_id,
            "at": int(self._now().timestamp() * 1000),
            **extra,
        }
        await self._record(topic, follower_id, event)

    async def _record(self, topic: str, key: int, event: dict[str, Any]) -> None:
        try:
            await self._log.publish(topic, key, event)
        except LogUnavailable:
            raise Unavailable("the change could not be recorded; try again") from None
