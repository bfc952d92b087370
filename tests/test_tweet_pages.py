"""Tweet lists spliced from remembered encodings read exactly as if encoded afresh, and a
changed tweet, author or count is never served from what was remembered."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import trio

from chirp.api import tweet_pages
from chirp.api.tweet_pages import tweet_bytes, tweet_page
from chirp.api.views import tweet_json
from chirp.model import Tweet, User
from chirp.services.tweets import TweetView

AT = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
AUTHOR = User(1, "ada", "ada@example.com", "Ada", AT, profile_image_url="https://x/a.png")
TWEET = Tweet(
    10, 1, "hello #world @bob, “quoted” é \U0001f426", AT, hashtags=("world",), mentions=("bob",)
)


def view(**changes: object) -> TweetView:
    fields: dict[str, object] = {
        "tweet": TWEET,
        "author": AUTHOR,
        "like_count": 3,
        "retweet_count": 1,
        "reply_count": 0,
        "liked": False,
        "retweeted": False,
    }
    return TweetView(**{**fields, **changes})  # type: ignore[arg-type]


def decoded(v: TweetView) -> object:
    return json.loads(tweet_bytes(v))


def test_each_reader_flag_and_a_retweet_read_as_the_plain_encoding() -> None:
    views = [view(liked=liked, retweeted=rt) for liked in (False, True) for rt in (False, True)]
    retweet = Tweet(11, 2, "", AT, retweet_of=10)
    views.append(view(tweet=retweet, retweet_of=views[0]))
    for v in views * 2:  # the second time from what was remembered
        assert decoded(v) == tweet_json(v)


def test_a_changed_count_author_or_edit_is_encoded_afresh() -> None:
    assert decoded(view())["like_count"] == 3
    assert decoded(view(like_count=4))["like_count"] == 4
    assert decoded(view(reply_count=2))["reply_count"] == 2
    renamed = dataclasses.replace(AUTHOR, display_name="Ada L.")
    assert decoded(view(author=renamed))["author"]["display_name"] == "Ada L."
    edited = dataclasses.replace(TWEET, content="edited", edited_at=AT)
    assert decoded(view(tweet=edited))["content"] == "edited"
    # An equal copy (as the Redis cache hands out) reuses the encoding and reads the same.
    copy = dataclasses.replace(edited)
    assert copy is not edited and decoded(view(tweet=copy)) == tweet_json(view(tweet=edited))


def test_a_lone_surrogate_still_encodes() -> None:
    odd = dataclasses.replace(TWEET, tweet_id=12, content="half \ud800 a pair")
    assert decoded(view(tweet=odd))["content"] == "half \ud800 a pair"


def test_the_memory_is_bounded() -> None:
    tweet_pages._encoded.clear()
    for n in range(tweet_pages.REMEMBERED + 5):
        tweet_bytes(view(tweet=dataclasses.replace(TWEET, tweet_id=1_000 + n)))
    assert len(tweet_pages._encoded) <= tweet_pages.REMEMBERED


def test_a_page_is_the_list_and_its_cursor() -> None:
    views = [view(), view(tweet=dataclasses.replace(TWEET, tweet_id=9), liked=True)]

    async def body(position: int | None) -> object:
        return json.loads(await tweet_page(views, position).get_data())

    assert trio.run(body, 8) == {"tweets": [tweet_json(v) for v in views], "next_cursor": "8"}
    assert trio.run(body, None)["next_cursor"] is None  # type: ignore[index]
    empty = tweet_page([], None)
    assert empty.mimetype == "application/json"
