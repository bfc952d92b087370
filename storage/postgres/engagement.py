"""Likes and retweets in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
import trio_asyncio

from storage.atomic import atomic


@atomic
class PostgresEngagementStore:
    """An `EngagementStore` on ``likes`` and ``retweets``, one row per user and tweet
    (primary key ``(tweet_id, user_id)``). Counts are counted from those rows when asked,
    through the primary keys, so they can never drift from them.

    Each method runs in one trip across the trio-asyncio bridge; trio cancellation cancels
    it on the server."""

    def __init__(self, pool: asyncpg.Pool, loop: trio_asyncio.TrioEventLoop) -> None:
        self._pool = pool
        self._loop = loop

    async def like(self, user_id: int, tweet_id: int) -> bool:
        added = await self._loop.run_aio_coroutine(
            self._pool.fetchval(
                """
                INSERT INTO likes (user_id, tweet_id) VALUES ($1, $2)
                ON CONFLICT DO NOTHING
                RETURNING true
                """,
                user_id,
                tweet_id,
            )
        )
        return bool(added)

    async def unlike(self, user_id: int, tweet_id: int) -> bool:
        removed = await self._loop.run_aio_coroutine(
            self._pool.fetchval(
                "DELETE FROM likes WHERE user_id = $1 AND tweet_id = $2 RETURNING true",
                user_id,
                tweet_id,
            )
        )
        return bool(removed)

    async def retweet(self, user_id: int, tweet_id: int, retweet_id: int) -> int | None:
        return await self._loop.run_aio_coroutine(self._retweet(user_id, tweet_id, retweet_id))

    async def _retweet(self, user_id: int, tweet_id: int, retweet_id: int) -> int | None:
        async with self._pool.acquire() as connection:
            while True:
                added = await connection.fetchval(
                    """
                    INSERT INTO retweets (user_id, tweet_id, retweet_id) VALUES ($1, $2, $3)
                    ON CONFLICT DO NOTHING
                    RETURNING true
                    """,
                    user_id,
                    tweet_id,
                    retweet_id,
                )
                if added:
                    return None
                existing = await connection.fetchval(
                    "SELECT retweet_id FROM retweets WHERE user_id = $1 AND tweet_id = $2",
                    user_id,
                    tweet_id,
                )
                if existing is not None:
                    return existing
                # Unretweeted between the two statements: try again.

    async def unretweet(self, user_id: int, tweet_id: int) -> int | None:
        return await self._loop.run_aio_coroutine(
            self._pool.fetchval(
                "DELETE FROM retweets WHERE user_id = $1 AND tweet_id = $2 RETURNING retweet_id",
                user_id,
                tweet_id,
            )
        )

    async def liked(self, user_id: int, tweet_ids: Iterable[int]) -> set[int]:
        wanted = list(tweet_ids)
        if not wanted:
            return set()
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(
                "SELECT tweet_id FROM likes WHERE tweet_id = ANY($2::bigint[]) AND user_id = $1",
                user_id,
                wanted,
            )
        )
        return {row["tweet_id"] for row in rows}

    async def retweeted(self, user_id: int, tweet_ids: Iterable[int]) -> dict[int, int]:
        wanted = list(tweet_ids)
        if not wanted:
            return {}
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(
                """
                SELECT tweet_id, retweet_id FROM retweets
                WHERE tweet_id = ANY($2::bigint[]) AND user_id = $1
                """,
                user_id,
                wanted,
            )
        )
        return {row["tweet_id"]: row["retweet_id"] for row in rows}

    async def counts(self, tweet_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        wanted = list(dict.fromkeys(tweet_ids))
        if not wanted:
            return {}
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(
                """
                SELECT t.tweet_id,
                    (SELECT count(*) FROM likes AS l WHERE l.tweet_id = t.tweet_id) AS likes,
                    (SELECT count(*) FROM retweets AS r WHERE r.tweet_id = t.tweet_id)
                        AS retweets
                FROM unnest($1::bigint[]) AS t (tweet_id)
                """,
                wanted,
            )
        )
        found = {row["tweet_id"]: (row["likes"], row["retweets"]) for row in rows}
        return {t: found[t] for t in wanted}

    async def retweets_of(self, tweet_id: int) -> list[int]:
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch("SELECT retweet_id FROM retweets WHERE tweet_id = $1", tweet_id)
        )
        return [row["retweet_id"] for row in rows]

    async def forget_tweet(self, tweet_id: int) -> list[int]:
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(
                """
                WITH unliked AS (DELETE FROM likes WHERE tweet_id = $1)
                DELETE FROM retweets WHERE tweet_id = $1 RETURNING retweet_id
                """,
                tweet_id,
            )
        )
        return [row["retweet_id"] for row in rows]
