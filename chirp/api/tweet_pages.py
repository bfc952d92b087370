"""Lists of tweets as JSON bytes, spliced from each tweet's remembered encoding.

A feed page is a hundred tweets, and building and encoding a hundred dicts was most of
what chirp spent serving one (profiled under ``python -m bench http``). Most of a tweet's
JSON is the same for every reader and every read: only ``liked`` and ``retweeted``
depend on who asks. So each tweet's JSON up to those two fields is remembered, beside
what it was made from (the tweet, its author, its three counts), and reused while those
are unchanged; the reader's two fields are appended from four constants.

What was encoded is compared with what is shown, field by field (identity first: the
embedded stores hand out the same objects), so an edit, a new display name or a like
encodes afresh and nothing stale is ever served. Retweets, which nest the original's
view, are encoded whole each time.
"""

from __future__ import annotations

from typing import Any

from quart import Response

from chirp.services.tweets import TweetView

from . import paging
from .json_provider import encode
from .views import tweet_json

#: Tweets remembered at once; past it the memory starts afresh (a feed page's worth of
#: tweets is a few hundred, the whole working set of a busy process a few thousand).
REMEMBERED = 16_384
#: The reader's fields, closing the tweet's object.
_TAILS = {
    (liked, retweeted): encode({"liked": liked, "retweeted": retweeted}).replace(b"{", b",", 1)
    for liked in (False, True)
    for retweeted in (False, True)
}
_OPEN, _SEPARATOR = b'{"tweets":[', b","

# tweet id -> (tweet, author, like, retweet and reply counts, JSON without the last "}")
_encoded: dict[int, tuple[Any, Any, int, int, int, bytes]] = {}


def tweet_page(views: list[TweetView], position: int | None) -> Response:
    """``{"tweets": [...], "next_cursor": ...}`` as a JSON response."""
    parts = [_OPEN, _SEPARATOR.join([tweet_bytes(view) for view in views])]
    parts.append(b'],"next_cursor":' + encode(paging.next_cursor(position)) + b"}")
    return Response(b"".join(parts), content_type="application/json")


def tweet_bytes(view: TweetView) -> bytes:
    """``tweet_json(view)`` encoded."""
    if view.retweet_of is not None:
        return encode(tweet_json(view))
    tweet, author = view.tweet, view.author
    held = _encoded.get(tweet.tweet_id)
    if (
        held is None
        or held[2] != view.like_count
        or held[3] != view.retweet_count
        or held[4] != view.reply_count
        or (held[0] is not tweet and held[0] != tweet)
        or (held[1] is not author and held[1] != author)
    ):
        if len(_encoded) >= REMEMBERED:
            _encoded.clear()
        shared = tweet_json(view)
        del shared["liked"], shared["retweeted"]
        body = encode(shared)[:-1]
        held = _encoded[tweet.tweet_id] = (
            tweet,
            author,
            view.like_count,
            view.retweet_count,
            view.reply_count,
            body,
        )
    return held[5] + _TAILS[view.liked, view.retweeted]
