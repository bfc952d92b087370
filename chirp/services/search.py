"""Search: what the indexer writes, and queries as users type them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from chirp import model, text
from storage.follower import Positions
from storage.protocols import Record, UserStore
from storage.search_index import SearchIndex, TweetDoc, TweetQuery, UserDoc

from .errors import Malformed
from .tweet_cache import DELETED
from .tweets import TweetService, TweetView
from .users import UserService, UserView

#: The topics the search index follows (every process reads all of them: `Positions`).
SEARCH_TOPICS = ("tweet_created", "tweet_edited", "tweet_deleted", "user_changed")
MAX_QUERY = 500  # characters
MAX_OFFSET = 900  # how deep a query can page
WORD = re.compile(r"\w+")
Kind = Literal["tweets", "users", "hashtags"]


@dataclass(frozen=True)
class Results:
    kind: Kind
    query: str
    found: list[TweetView] | list[UserView] | list[tuple[str, int]]
    next_cursor: int | None


class SearchService:
    def __init__(
        self,
        *,
        index: SearchIndex,
        applied: Positions,
        users: UserStore,
        tweet_service: TweetService,
        user_service: UserService,
    ) -> None:
        self.index = index
        #: How far into the log the index has taken this process (its own, not a group's).
        self.applied = applied
        self._users = users
        self._tweet_service = tweet_service
        self._user_service = user_service

    async def documents(self, records: Sequence[Record]) -> tuple[list[TweetDoc], list[UserDoc]]:
        """What a batch of log records changes in the index. Retweets have no text of
        their own and are not indexed."""
        tweet_events = [r for r in records if r.topic != "user_changed"]
        authors = await self._users.get_many({r.value["user_id"] for r in tweet_events})
        tweets = [
            TweetDoc(
                tweet_id=event["tweet_id"],
                version=DELETED if record.topic == "tweet_deleted" else event["version"],
                content="" if record.topic == "tweet_deleted" else event["content"],
                author=authors[event["user_id"]].username if event["user_id"] in authors else "",
                hashtags=() if record.topic == "tweet_deleted" else tuple(event["hashtags"]),
                mentions=tuple(event["mentions"]),
            )
            for record in tweet_events
            if (event := record.value).get("retweet_of") is None
        ]
        users = [
            UserDoc(e["user_id"], e["username"], e["display_name"], e["bio"])
            for r in records
            if r.topic == "user_changed"
            for e in (r.value,)
        ]
        return tweets, users

    async def search(
        self, query: str, kind: Kind, *, limit: int, cursor: int | None, viewer: int | None
    ) -> Results:
        """``cursor`` is how many results earlier pages held."""
        offset = cursor or 0
        if offset > MAX_OFFSET:
            raise Malformed(f"results go {MAX_OFFSET} deep; refine the query instead")
        query = _checked(query)
        found: Any
        if kind == "tweets":
            ids = await self.index.search_tweets(parse(query), limit=limit + 1, offset=offset)
            found = await self._tweet_service.views(ids[:limit], viewer=viewer)
        elif kind == "users":
            ids = await self.index.search_users(query, limit=limit + 1, offset=offset)
            found = await self._user_service.views(ids[:limit])
        else:
            prefix = query.removeprefix("#")
            if not text.is_hashtag(prefix):
                raise Malformed("a hashtag prefix is letters, digits or underscores")
            ids = self.index.hashtags(prefix, limit=limit + 1, offset=offset)
            found = ids[:limit]
        more = len(ids) > limit and offset + limit <= MAX_OFFSET
        return Results(kind, query, found, offset + limit if more else None)


def parse(query: str) -> TweetQuery:
    """A query as users type it: words, "quoted phrases", #tags, @mentions, from:user,
    all of which must match. Raises `Malformed` with the reason."""
    if query.count('"') % 2:
        raise Malformed("a quoted phrase is not closed")
    # Case-folded: tantivy's parser would read AND, OR and NOT as operators.
    quoted = re.findall(r'"([^"]*)"', query.casefold())
    phrases = tuple(words for words in (tuple(WORD.findall(p)) for p in quoted) if words)
    words: list[str] = []
    tags: list[str] = []
    mentions: list[str] = []
    authors: list[str] = []
    for token in re.sub(r'"[^"]*"', " ", query).split():
        if token.startswith("#"):
            tags.append(_named(token[1:], text.is_hashtag, "a #hashtag"))
        elif token.startswith("@"):
            mentions.append(_named(token[1:], model.is_username, "an @username"))
        elif token.casefold().startswith("from:"):
            authors.append(_named(token[5:], model.is_username, "from:username"))
        else:
            words.extend(WORD.findall(token.casefold()))
    parsed = TweetQuery(tuple(words), phrases, tuple(tags), tuple(mentions), tuple(authors))
    if not any((words, phrases, tags, mentions, authors)):
        raise Malformed("the query has no words, phrases, #tags, @users or from: to look for")
    return parsed


def _checked(query: str) -> str:
    query = query.strip()
    if not query:
        raise Malformed("give a query: q=…")
    if len(query) > MAX_QUERY:
        raise Malformed(f"a query is at most {MAX_QUERY} characters")
    if not query.isprintable():
        raise Malformed("a query is plain text, without control characters")
    return query


def _named(name: str, valid: Any, what: str) -> str:
    if not valid(name):
        raise Malformed(f"{name!r} is not {what}")
    return name.casefold()
