"""Trending on Redis: the seed's ``trending:{region}`` sorted sets, and the uses they are
scored from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import coredis
import msgpack
from coredis.tokens import PureToken

from chirp.model import Trend
from storage.atomic import atomic
from storage.protocols import DELETED_VERSION, TweetTags

from . import lua
from .scripts import Script


@atomic
class RedisTrendStore:
    """A `TrendStore` on Redis. A table's keys share its name as hash tag, so its scripts
    run on one cluster node: ``trending:{us}`` (hashtag → score), its details hash, and
    the versioned uses (tweet → version, tweet → tags, tweet → posted at)."""

    def __init__(self, client: coredis.Redis, *, prefix: str = "") -> None:
        self._client = client
        self._prefix = prefix
        self._set_uses = Script(client, lua.SET_USES)
        self._uses = Script(client, lua.USES)

    def _keys(self, table: str) -> list[str]:
        p = self._prefix
        return [
            f"{p}trend_versions:{{{table}}}",
            f"{p}trend_tags:{{{table}}}",
            f"{p}trend_at:{{{table}}}",
        ]

    def _table(self, table: str) -> tuple[str, str]:
        return f"{self._prefix}trending:{{{table}}}", f"{self._prefix}trending_meta:{{{table}}}"

    async def set_uses(self, table: str, tweets: Iterable[TweetTags]) -> None:
        args: list[str | bytes] = []
        for tweet in tweets:
            # Kept with no tags, as in the memory store: a deletion or an edit.
            counts = bool(tweet.hashtags) or tweet.edited or tweet.version == DELETED_VERSION
            payload = msgpack.packb([tweet.author_id, tweet.at, list(tweet.hashtags)])
            args += [str(tweet.tweet_id), str(tweet.version), repr(tweet.at), payload]
            args.append("1" if counts else "0")
        if args:
            await self._set_uses(keys=self._keys(table), args=args)

    async def uses(self, table: str, since: float) -> dict[str, list[tuple[int, float]]]:
        found: defaultdict[str, list[tuple[int, float]]] = defaultdict(list)
        for payload in await self._uses(keys=self._keys(table), args=[repr(since)]):
            author_id, at, hashtags = msgpack.unpackb(payload)
            for hashtag in hashtags:
                found[hashtag].append((author_id, at))
        return dict(found)

    async def replace(self, table: str, trends: Iterable[Trend]) -> None:
        scores, meta = self._table(table)
        held = list(trends)
        async with self._client.pipeline(transaction=True) as pipeline:
            pipeline.delete([scores, meta])
            if held:
                pipeline.zadd(scores, {t.hashtag: t.score for t in held})
                pipeline.hset(
                    meta, {t.hashtag: msgpack.packb([t.tweet_count, t.entered_at]) for t in held}
                )

    async def top(self, table: str, limit: int) -> list[Trend]:
        scores, meta = self._table(table)
        if limit <= 0:
            return []
        ranked = await self._client.zrange(scores, 0, limit - 1, rev=True, withscores=True)
        if len(ranked) == limit:
            # Ties are ranked by hashtag: those sharing the last score may be cut off by it.
            floor = ranked[-1][1]
            tied = await self._client.zrange(
                scores, floor, floor, sortby=PureToken.BYSCORE, withscores=True
            )
            ranked = [r for r in ranked if r[1] > floor] + list(tied)
        ordered = sorted(((m.decode(), s) for m, s in ranked), key=lambda r: (-r[1], r[0]))
        ordered = ordered[:limit]
        if not ordered:
            return []
        details = await self._client.hmget(meta, [tag for tag, _ in ordered])
        trends = []
        for (hashtag, score), packed in zip(ordered, details, strict=True):
            if packed is not None:
                tweet_count, entered_at = msgpack.unpackb(packed)
                trends.append(Trend(hashtag, score, tweet_count, entered_at))
        return trends
