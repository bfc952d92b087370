"""Trending hashtags: which tables a tweet counts toward, rescoring, and the cached reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chirp import trending
from chirp.model import Trend
from storage.protocols import Record, TrendStore, TweetTags, UserStore

from .errors import NotFound
from .tweet_cache import DELETED
from .users import utc_now

#: The topics the trending group consumes.
TRENDING_TOPICS = ("tweet_created", "tweet_edited", "tweet_deleted")
CACHE_SECONDS = 60.0  # the seed's gateway cache for trending responses (the default)


class TrendingService:
    """A tweet counts toward ``global``, its author's region and every category whose
    hashtag list it matches (each table counts all of the tweet's tags). Every event about
    a tweet is sent to every table with the tweet's version: tables it no longer belongs
    to (an edit took its category tag away, its author moved) get no tags, and a deleted
    tweet gets none anywhere, for good."""

    def __init__(
        self,
        *,
        store: TrendStore,
        users: UserStore,
        rules: trending.TrendRules,
        regions: Sequence[str],
        categories: Mapping[str, Sequence[str]],
        now: Callable[[], datetime] = utc_now,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._store = store
        self._users = users
        self._rules = rules
        self._regions = tuple(regions)
        self._categories = {
            name: frozenset(t.casefold() for t in tags) for name, tags in categories.items()
        }
        self._now = now
        self._cache_seconds = cache_seconds
        self._served: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
        self.tables = (*self._regions, *self._categories)

    async def changes(self, records: Sequence[Record]) -> dict[str, list[TweetTags]]:
        """Per table, what these log records change in it."""
        originals = [r.value for r in records if r.value.get("retweet_of") is None]
        authors = await self._users.get_many({event["user_id"] for event in originals})
        changes: dict[str, list[TweetTags]] = {table: [] for table in self.tables}
        for record in records:
            event = record.value
            if event.get("retweet_of") is not None:
                continue  # a retweet has no hashtags of its own
            deleted = record.topic == "tweet_deleted"
            tags = () if deleted else tuple(sorted({t.casefold() for t in event["hashtags"]}))
            author = authors.get(event["user_id"])
            region = author.region if author is not None else "global"
            counted = {"global", region} | {
                name for name, wanted in self._categories.items() if wanted.intersection(tags)
            }
            version = DELETED if deleted else event["version"]
            for table in self.tables:
                changes[table].append(
                    TweetTags(
                        event["tweet_id"],
                        version,
                        event["user_id"],
                        event["created_at"] / 1000,
                        tags if table in counted else (),
                        edited=record.topic == "tweet_edited",
                    )
                )
        return changes

    async def apply(self, table: str, tweets: Sequence[TweetTags]) -> None:
        await self._store.set_uses(table, tweets)

    async def rescore(self, table: str) -> list[Trend]:
        """Score every tag used lately; the table becomes the tags above zero."""
        now = self._now().timestamp()
        uses = await self._store.uses(table, since=now - 2 * self._rules.window)
        entered = {t.hashtag: t.entered_at for t in await self._store.top(table, len(uses))}
        trends = [
            trend
            for hashtag, tag_uses in uses.items()
            if (
                trend := trending.score(
                    hashtag, tag_uses, now=now, entered_at=entered.get(hashtag), rules=self._rules
                )
            )
            is not None
        ]
        await self._store.replace(table, trends)
        return trends

    def listing(self) -> dict[str, list[str]]:
        """The tables there are: regions (``global`` first) and categories."""
        return {"regions": list(self._regions), "categories": sorted(self._categories)}

    async def top(self, region: str, limit: int) -> dict[str, Any]:
        """``{region, as_of, trends: [{hashtag, score, tweet_count, rank}]}``, served from
        a response cached for a minute (by default), as the seed's gateway does."""
        if region not in self.tables:
            raise NotFound(f"there is no trending table {region!r}")
        now = self._now().timestamp()
        held = self._served.get((region, limit))
        if held is not None and now - held[0] < self._cache_seconds:
            return held[1]
        trends = await self._store.top(region, limit)
        answer = {
            "region": region,
            "as_of": datetime.fromtimestamp(now, UTC),
            "trends": [
                {
                    "hashtag": t.hashtag,
                    "score": round(t.score, 1),
                    "tweet_count": t.tweet_count,
                    "rank": rank,
                }
                for rank, t in enumerate(trends, start=1)
            ],
        }
        self._served[(region, limit)] = (now, answer)
        return answer
