"""The follow graph in PostgreSQL (the seed's ``relationships`` table)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg
import trio_asyncio

from chirp.model import Page
from storage.atomic import atomic

#: Edges sent per statement by `PostgresGraphStore.load` (two bigint arrays of this length).
LOAD_BATCH = 50_000

_MAX_BIGINT = 2**63 - 1

# An edge change and its counters in one statement (so one round trip, and atomic): the
# counters move only when the edge did, and their rows are locked in user_id order, so two
# changes touching the same two users cannot deadlock. ON CONFLICT DO UPDATE works on the
# newest version of a counter row, whatever the statement's snapshot, so the count it
# returns includes every change committed before it and none after.
_COUNTS_AFTER = """
    counted AS (
        INSERT INTO follow_counts AS c (user_id, followers, following)
        SELECT user_id, followers, following
        FROM unnest($3::bigint[], $4::bigint[], $5::bigint[]) AS d (user_id, followers, following)
        WHERE EXISTS (SELECT FROM changed)
        ORDER BY user_id
        ON CONFLICT (user_id) DO UPDATE SET
            followers = c.followers + excluded.followers,
            following = c.following + excluded.following
        RETURNING user_id, followers
    )
    SELECT followers FROM counted WHERE user_id = $2
"""
_FOLLOW = (
    """
    WITH changed AS (
        INSERT INTO relationships (follower_id, followee_id, created_at) VALUES ($1, $2, $6)
        ON CONFLICT DO NOTHING
        RETURNING seq
    ),
    """
    + _COUNTS_AFTER
)
_UNFOLLOW = (
    """
    WITH changed AS (
        DELETE FROM relationships WHERE follower_id = $1 AND followee_id = $2
        RETURNING seq
    ),
    """
    + _COUNTS_AFTER
)

_PAGE = """
    SELECT {other} AS other, seq FROM relationships
    WHERE {side} = $1 AND seq < $2
    ORDER BY seq DESC
    LIMIT $3
"""
_FOLLOWERS = _PAGE.format(side="followee_id", other="follower_id")
_FOLLOWING = _PAGE.format(side="follower_id", other="followee_id")


@atomic
class PostgresGraphStore:
    """A `GraphStore` on ``relationships``: each edge's ``seq`` (an identity column) orders
    the lists, newest first, and is their cursor. Per user counts live in
    ``follow_counts``, changed by the very statement that changes the edge: an unfollow's
    answer is the followee's counter as its own update left it, so two unfollows at once
    each learn their own count.

    Each method runs in one trip across the trio-asyncio bridge (a follow or an unfollow is
    one statement, so one round trip too); trio cancellation cancels it on the server, and
    a cancelled follow or unfollow is rolled back whole."""

    def __init__(self, pool: asyncpg.Pool, loop: trio_asyncio.TrioEventLoop) -> None:
        self._pool = pool
        self._loop = loop

    async def follow(self, follower_id: int, followee_id: int, at: datetime) -> bool:
        followers = await self._loop.run_aio_coroutine(
            self._pool.fetchval(_FOLLOW, *_edge_change(follower_id, followee_id, +1), at)
        )
        return followers is not None

    async def unfollow(self, follower_id: int, followee_id: int) -> int | None:
        return await self._loop.run_aio_coroutine(
            self._pool.fetchval(_UNFOLLOW, *_edge_change(follower_id, followee_id, -1))
        )

    async def load(self, edges: Iterable[tuple[int, int]]) -> int:
        """Add many (follower, followee) edges at once, as seeding a demo or a benchmark
        does: in order, a repeated or existing edge skipped, in one transaction of a few
        large statements (all or nothing). How many were new. The edges are stamped with
        the time of the transaction."""
        unique = list(dict.fromkeys((int(a), int(b)) for a, b in edges))
        if not unique:
            return 0
        return await self._loop.run_aio_coroutine(self._load(unique))

    async def _load(self, edges: list[tuple[int, int]]) -> int:
        added = 0
        async with self._pool.acquire() as connection, connection.transaction():
            for start in range(0, len(edges), LOAD_BATCH):
                batch = edges[start : start + LOAD_BATCH]
                added += await connection.fetchval(
                    """
                    WITH added AS (
                        INSERT INTO relationships (follower_id, followee_id)
                        SELECT follower_id, followee_id
                        FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY
                            AS e (follower_id, followee_id, position)
                        ORDER BY position
                        ON CONFLICT DO NOTHING
                        RETURNING follower_id, followee_id
                    ), deltas AS (
                        SELECT user_id, sum(followers) AS followers, sum(following) AS following
                        FROM (
                            SELECT followee_id, 1, 0 FROM added
                            UNION ALL
                            SELECT follower_id, 0, 1 FROM added
                        ) AS d (user_id, followers, following)
                        GROUP BY user_id
                    ), counted AS (
                        INSERT INTO follow_counts AS c (user_id, followers, following)
                        SELECT user_id, followers, following FROM deltas ORDER BY user_id
                        ON CONFLICT (user_id) DO UPDATE SET
                            followers = c.followers + excluded.followers,
                            following = c.following + excluded.following
                    )
                    SELECT count(*) FROM added
                    """,
                    [a for a, _ in batch],
                    [b for _, b in batch],
                )
        return added

    async def is_following(self, follower_id: int, followee_id: int) -> bool:
        return await self._loop.run_aio_coroutine(
            self._pool.fetchval(
                """
                SELECT EXISTS (
                    SELECT 1 FROM relationships WHERE follower_id = $1 AND followee_id = $2
                )
                """,
                follower_id,
                followee_id,
            )
        )

    async def followers(self, user_id: int, *, limit: int, before: int | None = None) -> Page:
        return await self._page(_FOLLOWERS, user_id, limit, before)

    async def following(self, user_id: int, *, limit: int, before: int | None = None) -> Page:
        return await self._page(_FOLLOWING, user_id, limit, before)

    async def _page(self, query: str, user_id: int, limit: int, before: int | None) -> Page:
        if limit <= 0:
            return Page([], None)
        # One row more than asked tells whether there is a next page. The cursor is always
        # a bound (never "IS NULL OR"), so a generic plan still seeks the index to it.
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(query, user_id, _MAX_BIGINT if before is None else before, limit + 1)
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([row["other"] for row in rows], rows[-1]["seq"] if more else None)

    async def counts(self, user_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        wanted = list(user_ids)
        if not wanted:
            return {}
        rows = await self._loop.run_aio_coroutine(
            self._pool.fetch(
                """
                SELECT user_id, followers, following FROM follow_counts
                WHERE user_id = ANY($1::bigint[])
                """,
                wanted,
            )
        )
        found = {row["user_id"]: (row["followers"], row["following"]) for row in rows}
        return {i: found.get(i, (0, 0)) for i in wanted}


def _edge_change(
    follower_id: int, followee_id: int, step: int
) -> tuple[int, int, list[int], list[int], list[int]]:
    """The parameters of `_FOLLOW` / `_UNFOLLOW` (but the time): the edge, then the users
    whose counters move, sorted, with the change to their followers and following."""
    deltas = {followee_id: [step, 0]}  # user_id: [followers, following]
    deltas.setdefault(follower_id, [0, 0])[1] += step  # one row each, even for a self-follow
    user_ids = sorted(deltas)
    return (
        follower_id,
        followee_id,
        user_ids,
        [deltas[u][0] for u in user_ids],
        [deltas[u][1] for u in user_ids],
    )
