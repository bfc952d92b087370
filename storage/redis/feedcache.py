"""The feed cache on Redis: the seed's ``feed:{user_id}`` and ``celeb:{user_id}`` lists
and ``tweet:{id}`` hashes, and ``replies:{id}`` hashes of reply counts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

import coredis
import trio

from storage.atomic import atomic
from storage.cache_ttl import CacheTTL

from . import lua
from .codec import pack_cached, unpack_cached
from .scripts import Script, reloading

BATCH = 100  # commands per pipeline, and lists per push script: the seed's batches of 100
#: Script calls (of `BATCH` lists each) per pipeline: small pipelines, so the client
#: encodes the next while the server runs one (measured: 2 beat 1, 4 and 32).
CALLS_PER_PIPELINE = 2
PIPELINES = 2  # pipelines in flight at once (measured: 2 beat 1 by a third, 4 no better)


@atomic
class RedisFeedCache:
    """A `FeedCache` on Redis. Each command or script names the keys it touches; all
    but the fan-out push keep to one key (``feed:{42}`` and ``celeb:{42}`` share a slot
    by their hash tag), and the push takes `BATCH` lists of one server, so it works
    against Redis Cluster; work on many keys goes in pipelines.

    A feed holds ids newest first and ends in a sentinel (`lua.SENTINEL`), so a cached
    empty feed is told from a missing one. Pushes are scripts (LPUSHX semantics, in
    order, no duplicates, LTRIM to the capacity): a redelivered push changes nothing.
    A tweet hash holds its version and payload (msgpack; nil once deleted); a put replaces only
    an older version.
    """

    def __init__(self, client: coredis.Redis, *, prefix: str = "", ttl: CacheTTL = CacheTTL()):
        self._client = client
        self._prefix = prefix
        self._ttl = ttl
        self._push = Script(client, lua.PUSH)
        self._merge = Script(client, lua.MERGE)
        self._page = Script(client, lua.PAGE)
        self._put = Script(client, lua.PUT_VERSIONED)
        self._scripts = (self._push, self._merge, self._page, self._put)
        self._feed_ms = str(int(ttl.feed * 1000))
        self._celeb_ms = str(int(ttl.celeb * 1000))
        self._tweet_ms = str(int(ttl.tweet * 1000))

    def _feed_key(self, user_id: int) -> str:
        return f"{self._prefix}feed:{{{user_id}}}"

    def _celeb_key(self, author_id: int) -> str:
        return f"{self._prefix}celeb:{{{author_id}}}"

    def _tweet_key(self, tweet_id: int) -> str:
        return f"{self._prefix}tweet:{{{tweet_id}}}"

    def _replies_key(self, tweet_id: int) -> str:
        return f"{self._prefix}replies:{{{tweet_id}}}"

    async def push(self, entries: Iterable[tuple[int, int]]) -> int:
        return sum(await self._insert(entries, self._feed_key, self._ttl.feed_capacity))

    async def remove(self, entries: Iterable[tuple[int, int]]) -> int:
        keyed = [(self._feed_key(user_id), tweet_id) for user_id, tweet_id in entries]
        removed = await self._pipelined(
            keyed, lambda p, entry: p.lrem(entry[0], 1, str(entry[1]).encode())
        )
        return sum(removed)

    async def feed(
        self, user_id: int, *, limit: int, max_id: int | None = None
    ) -> list[int] | None:
        page = await self._page(
            keys=[self._feed_key(user_id)],
            args=[str(limit), "" if max_id is None else str(max_id), self._feed_ms],
        )
        return None if page is None else [int(i) for i in page]

    async def store_feed(self, user_id: int, tweet_ids: Iterable[int]) -> None:
        await self._store(self._feed_key(user_id), tweet_ids, self._feed_ms)

    async def drop_feed(self, user_id: int) -> None:
        await self._client.delete([self._feed_key(user_id)])

    async def drop_feeds(self, user_ids: Iterable[int]) -> None:
        # One DEL per key: a DEL of several would span slots on a cluster.
        await self._pipelined(list(user_ids), lambda p, u: p.delete([self._feed_key(u)]))

    async def store_celeb(self, author_id: int, tweet_ids: Iterable[int]) -> None:
        ids = sorted(set(tweet_ids))
        await self._merge(
            keys=[self._celeb_key(author_id)],
            args=[str(self._ttl.celeb_capacity), self._celeb_ms, *map(str, ids)],
        )

    async def drop_celeb(self, author_id: int) -> None:
        await self._client.delete([self._celeb_key(author_id)])

    async def celeb_push(self, entries: Iterable[tuple[int, int]]) -> None:
        await self._insert(entries, self._celeb_key, self._ttl.celeb_capacity)

    async def celeb_remove(self, author_id: int, tweet_id: int) -> None:
        await self._client.lrem(self._celeb_key(author_id), 1, str(tweet_id).encode())

    async def celeb_recent(
        self, author_ids: Iterable[int], *, limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        authors = list(dict.fromkeys(author_ids))
        bound = "" if max_id is None else str(max_id)
        pages = await self._pipelined(
            authors,
            lambda p, a: self._page.queue(p, [self._celeb_key(a)], [str(limit), bound, "0"]),
        )
        return {
            author: [int(i) for i in page]
            for author, page in zip(authors, pages, strict=True)
            if page is not None
        }

    async def get_tweets(self, tweet_ids: Iterable[int]) -> dict[int, Any]:
        ids = list(dict.fromkeys(tweet_ids))
        held = await self._pipelined(ids, lambda p, i: p.hmget(self._tweet_key(i), ["v", "t"]))
        found: dict[int, Any] = {}
        for tweet_id, (version, payload) in zip(ids, held, strict=True):
            if version is not None:
                found[tweet_id] = unpack_cached(payload)
        return found

    async def put_tweets(self, tweets: Mapping[int, tuple[int, Any]]) -> None:
        await self._put_versioned(tweets, self._tweet_key, pack_cached)

    async def get_reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        ids = list(dict.fromkeys(tweet_ids))
        held = await self._pipelined(ids, lambda p, i: p.hget(self._replies_key(i), "t"))
        return {i: int(count) for i, count in zip(ids, held, strict=True) if count}

    async def put_reply_counts(self, counts: Mapping[int, tuple[int, int | None]]) -> None:
        def encode(count: int | None) -> bytes:
            return b"" if count is None else str(count).encode()  # "": marked changed

        await self._put_versioned(counts, self._replies_key, encode)

    async def _put_versioned(
        self,
        values: Mapping[int, tuple[int, Any]],
        key_of: Callable[[int], str],
        encode: Callable[[Any], bytes],
    ) -> None:
        """`lua.PUT_VERSIONED` per ``{tweet_id: (version, value)}``, living a tweet's TTL."""
        ms = self._tweet_ms

        def put(pipeline: Any, item: tuple[int, tuple[int, Any]]) -> Awaitable[Any]:
            tweet_id, (version, value) = item
            return self._put.queue(pipeline, [key_of(tweet_id)], [str(version), encode(value), ms])

        await self._pipelined(list(values.items()), put)

    async def _insert(
        self, entries: Iterable[tuple[int, int]], key_of: Any, capacity: int
    ) -> list[int]:
        """`BATCH` lists to a script call, each list's ids behind their count: one call per
        batch, not per list, is what lets fan-out keep up with the server. The script
        orders and de-duplicates (`lua.PUSH`); here is only what Python must do."""
        by_owner: defaultdict[int, list[int]] = defaultdict(list)
        for owner, tweet_id in entries:
            by_owner[owner].append(tweet_id)
        owners = list(by_owner.items())
        calls = []
        for start in range(0, len(owners), BATCH):
            keys, args = [], [capacity]
            for owner, ids in owners[start : start + BATCH]:
                keys.append(key_of(owner))
                args.append(len(ids))
                args += ids
            calls.append((keys, args))
        return await self._pipelined(
            calls, lambda p, call: self._push.queue(p, *call), per_pipeline=CALLS_PER_PIPELINE
        )

    async def _store(self, key: str, tweet_ids: Iterable[int], ttl_ms: str) -> None:
        ids = sorted(set(tweet_ids), reverse=True)[: self._ttl.feed_capacity]
        async with self._client.pipeline(transaction=True) as pipeline:
            pipeline.delete([key])
            pipeline.rpush(key, [*(str(i).encode() for i in ids), lua.SENTINEL])
            pipeline.pexpire(key, int(ttl_ms))

    async def _pipelined(
        self, items: Sequence[Any], command: Any, *, per_pipeline: int = BATCH
    ) -> list[Any]:
        """``command(pipeline, item)`` for every item, `BATCH` to a pipeline and up to
        `PIPELINES` pipelines in flight (the client encodes one while the server runs
        another); the answers in the items' order. Every command here is idempotent, so
        a batch whose scripts the server had forgotten is simply sent again."""
        batches = [
            items[start : start + per_pipeline] for start in range(0, len(items), per_pipeline)
        ]
        answers: list[list[Any]] = [[] for _ in batches]

        async def send(index: int) -> None:
            async def attempt() -> list[Any]:
                async with self._client.pipeline(transaction=False) as pipeline:
                    handles = [command(pipeline, item) for item in batches[index]]
                return [await handle for handle in handles]

            async with limiter:
                answers[index] = await reloading(self._scripts, attempt)

        if len(batches) == 1:
            limiter = trio.CapacityLimiter(1)
            await send(0)
        else:
            limiter = trio.CapacityLimiter(PIPELINES)
            async with trio.open_nursery() as nursery:
                for index in range(len(batches)):
                    nursery.start_soon(send, index)
        return [answer for batch in answers for answer in batch]
