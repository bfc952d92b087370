"""``/api/v1/tweet`` and the tweet lists: posting, reading, editing, engagement."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response
from werkzeug.exceptions import NotFound

from chirp import ids
from chirp.services import Services
from chirp.text import MAX_MEDIA_URLS, MAX_TWEET_CHARS

from . import paging
from .bodies import Invalid, StrictModel, json_body, ruled
from .identity import current_user, own_reader, viewer
from .tweet_pages import tweet_page
from .views import timestamp, tweet_json


class NewTweet(StrictModel):
    content: str = ruled(minLength=1, maxLength=MAX_TWEET_CHARS)
    media_urls: list[str] | None = ruled(None, maxItems=MAX_MEDIA_URLS)
    reply_to_tweet_id: str | None = None


class TweetEdit(StrictModel):
    content: str = ruled(minLength=1, maxLength=MAX_TWEET_CHARS)


def tweets_routes(services: Services) -> Blueprint:
    tweets, users, limits, feeds = (
        services.tweets,
        services.users,
        services.limits,
        services.feeds,
    )
    routes = Blueprint("tweets", __name__, url_prefix="/api/v1")

    @routes.post("/tweet")
    async def post() -> tuple[dict[str, Any], int]:
        user_id = await current_user(users)
        await limits.tweet_by(user_id)
        body = await json_body(NewTweet)
        reply_to = None
        if body.reply_to_tweet_id is not None:
            try:
                reply_to = ids.parse(body.reply_to_tweet_id)
            except ValueError:
                raise Invalid("reply_to_tweet_id: not a tweet id") from None
        view = await tweets.post(
            user_id, body.content, media_urls=body.media_urls, reply_to=reply_to
        )
        created = tweet_json(view)
        return {
            "tweet_id": created["tweet_id"],
            "created_at": created["created_at"],
            "tweet": created,
        }, 201

    @routes.get("/tweet/<tweet_id>")
    async def get(tweet_id: str) -> dict[str, Any]:
        return tweet_json(await tweets.view(_tweet_id(tweet_id), viewer=await viewer(users)))

    @routes.patch("/tweet/<tweet_id>")
    async def edit(tweet_id: str) -> dict[str, Any]:
        user_id = await current_user(users)
        body = await json_body(TweetEdit)
        return tweet_json(await tweets.edit(user_id, _tweet_id(tweet_id), body.content))

    @routes.delete("/tweet/<tweet_id>")
    async def delete(tweet_id: str) -> Response:
        await tweets.delete(await current_user(users), _tweet_id(tweet_id))
        return no_content()

    @routes.get("/tweet/<tweet_id>/history")
    async def history(tweet_id: str) -> dict[str, Any]:
        tweet, versions = await tweets.history(_tweet_id(tweet_id))
        return {
            "tweet_id": str(tweet.tweet_id),
            "content": tweet.content,
            "edited_at": None if tweet.edited_at is None else timestamp(tweet.edited_at),
            "versions": [
                {
                    "content": v.content,
                    "hashtags": list(v.hashtags),
                    "mentions": list(v.mentions),
                    "urls": list(v.urls),
                    "valid_from": timestamp(v.valid_from),
                }
                for v in versions
            ],
        }

    @routes.post("/tweet/<tweet_id>/like")
    async def like(tweet_id: str) -> dict[str, Any]:
        return tweet_json(await tweets.like(await current_user(users), _tweet_id(tweet_id)))

    @routes.delete("/tweet/<tweet_id>/like")
    async def unlike(tweet_id: str) -> dict[str, Any]:
        return tweet_json(await tweets.unlike(await current_user(users), _tweet_id(tweet_id)))

    @routes.post("/tweet/<tweet_id>/retweet")
    async def retweet(tweet_id: str) -> tuple[dict[str, Any], int]:
        return tweet_json(await tweets.retweet(await current_user(users), _tweet_id(tweet_id))), 201

    @routes.delete("/tweet/<tweet_id>/retweet")
    async def unretweet(tweet_id: str) -> Response:
        await tweets.unretweet(await current_user(users), _tweet_id(tweet_id))
        return no_content()

    @routes.get("/tweet/<tweet_id>/replies")
    async def replies(tweet_id: str) -> Response:
        return tweet_page(*await tweets.replies(_tweet_id(tweet_id), **await list_args()))

    @routes.get("/users/<int:user_id>/tweets")
    async def timeline(user_id: int) -> Response:
        return tweet_page(*await tweets.timeline(user_id, **await list_args()))

    @routes.get("/feed")
    async def feed() -> Response:
        """The caller's home feed; ``userId``, if given, must be the caller's own id."""
        user_id = await own_reader(users, "home feed")
        page = await feeds.read(user_id, limit=paging.limit(), max_id=paging.cursor("max_id"))
        response = tweet_page(page.tweets, page.next_cursor)
        response.headers["X-Feed-Source"] = "regenerated" if page.regenerated else "cache"
        return response

    @routes.get("/hashtag/<tag>")
    async def hashtag(tag: str) -> Response:
        return tweet_page(*await tweets.hashtag(tag.removeprefix("#"), **await list_args()))

    async def list_args() -> dict[str, Any]:
        return {
            "viewer": await viewer(users),
            "limit": paging.limit(),
            "max_id": paging.cursor("max_id"),
            "since_id": paging.cursor("since_id"),
        }

    return routes


def no_content() -> Response:
    # An empty bytes body: with none at all Quart makes an iterable body that it reads
    # through asyncio's executor, which fails under trio ("no running event loop").
    return Response(b"", status=204)


def _tweet_id(text: str) -> int:
    try:
        return ids.parse(text)
    except ValueError:
        raise NotFound(f"there is no tweet {text[:24]!r}") from None
