"""What only the PostgreSQL backend has: migrations, row locks, connecting, bulk loads.
The store contracts themselves are in test_store_contracts.py."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
import trio
import trio_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.memory import MemoryGraphStore
from storage.postgres import PostgresDatabase, PostgresGraphStore, open_postgres
from storage.postgres import graph as postgres_graph
from storage.postgres.migrations import LOCK_CLASS, MIGRATIONS, quote_ident
from storage.protocols import BackendUnavailable
from tests.backends import scratch_name
from tests.pg import scratch_postgres
from tests.servers import Servers

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
VERSIONS = [m.version for m in MIGRATIONS]


async def recorded_versions(database: PostgresDatabase) -> list[int]:
    rows = await database.loop.run_aio_coroutine(
        database.pool.fetch("SELECT version FROM schema_migrations ORDER BY version")
    )
    return [row["version"] for row in rows]


async def test_opening_a_migrated_schema_again_changes_nothing(servers: Servers) -> None:
    async with scratch_postgres(servers.postgres_dsn) as database:
        assert database.migrated == VERSIONS
        await database.users.create(
            username="kept",
            email="kept@example.org",
            password_hash="h",
            display_name="k",
            created_at=NOW,
        )
        async with open_postgres(
            servers.postgres_dsn, loop=database.loop, schema=database.schema
        ) as again:
            assert again.migrated == []
            assert (await again.users.find("kept")) is not None
        assert await recorded_versions(database) == VERSIONS


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    servers: Servers,
) -> None:
    """A third session holds the migration lock until both openers wait on it, so they
    really do race; then exactly one of them applies everything."""
    dsn, schema = servers.postgres_dsn, scratch_name("test_")
    waiting = """
        SELECT count(*) FROM pg_locks
        WHERE locktype = 'advisory' AND NOT granted AND classid = $1::bigint::oid
          AND objid = (hashtext($2)::bigint & 4294967295)::oid
    """
    migrated: list[list[int]] = []

    async def open_one(loop: trio_asyncio.TrioEventLoop) -> None:
        async with open_postgres(dsn, loop=loop, schema=schema) as database:
            migrated.append(database.migrated)

    async with trio_asyncio.open_loop() as loop:
        holder = await loop.run_aio_coroutine(asyncpg.connect(dsn))
        try:
            await loop.run_aio_coroutine(holder.execute("BEGIN"))
            await loop.run_aio_coroutine(
                holder.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, schema)
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(open_one, loop)
                nursery.start_soon(open_one, loop)
                raced = False
                while not raced and len(migrated) < 2:  # an opener past the lock is a bug
                    raced = 2 == await loop.run_aio_coroutine(
                        holder.fetchval(waiting, LOCK_CLASS, schema)
                    )
                await loop.run_aio_coroutine(holder.execute("COMMIT"))
            assert raced, "the openers did not wait for the migration lock"
            assert sorted(migrated) == [[], VERSIONS]
            versions = await loop.run_aio_coroutine(
                holder.fetch(f"SELECT version FROM {quote_ident(schema)}.schema_migrations")
            )
            assert sorted(row["version"] for row in versions) == VERSIONS
        finally:
            with trio.CancelScope(shield=True):
                if holder.is_in_transaction():  # failed while holding the lock
                    await loop.run_aio_coroutine(holder.execute("ROLLBACK"))
                await loop.run_aio_coroutine(
                    holder.execute(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE")
                )
                await loop.run_aio_coroutine(holder.close())


async def test_concurrent_unfollows_each_learn_their_own_count(servers: Servers) -> None:
    followers = range(100, 130)
    async with scratch_postgres(servers.postgres_dsn, max_size=10) as database:
        graph = database.graph
        assert await graph.load((f, 1) for f in followers) == len(followers)
        left: list[int] = []

        async def unfollow(follower: int) -> None:
            count = await graph.unfollow(follower, 1)
            assert count is not None
            left.append(count)

        async with trio.open_nursery() as nursery:
            for follower in followers:
                nursery.start_soon(unfollow, follower)
        assert sorted(left) == list(range(len(followers)))
        assert await graph.counts([1]) == {1: (0, 0)}


async def test_an_unreachable_server_is_named_without_its_password() -> None:
    async with trio_asyncio.open_loop() as loop:
        with pytest.raises(BackendUnavailable) as raised:
            async with open_postgres(
                "postgresql://chirp:s3cret@127.0.0.1:1/chirp", loop=loop, connect_timeout=5
            ):
                pytest.fail("nothing listens on port 1")
    assert raised.value.backend == "postgresql"
    assert raised.value.address == "postgresql://chirp:***@127.0.0.1:1/chirp"
    assert "postgresql at" in str(raised.value) and "s3cret" not in str(raised.value)


async def lists_of(graph: PostgresGraphStore | MemoryGraphStore, users: range) -> dict:
    return {
        (side, u): (await getattr(graph, side)(u, limit=100)).items
        for u in users
        for side in ("followers", "following")
    }


async def check_load_matches_following(
    dsn: str, before: list[tuple[int, int]], bulk: list[tuple[int, int]]
) -> None:
    followed = MemoryGraphStore()
    async with scratch_postgres(dsn) as database:
        loaded = database.graph
        for a, b in before:
            await loaded.follow(a, b, NOW)
            await followed.follow(a, b, NOW)
        assert await loaded.load(bulk) == len(set(bulk) - set(before))
        for a, b in bulk:
            await followed.follow(a, b, NOW)
        users = range(5)
        assert await lists_of(loaded, users) == await lists_of(followed, users)
        assert await loaded.counts(users) == await followed.counts(users)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=20),
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30),
)
def test_a_bulk_load_is_the_same_as_following_one_by_one(
    servers: Servers, before: list[tuple[int, int]], bulk: list[tuple[int, int]]
) -> None:
    trio.run(check_load_matches_following, servers.postgres_dsn, before, bulk)


async def test_a_load_larger_than_a_batch_keeps_its_order(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres_graph, "LOAD_BATCH", 3)
    before = [(1, 0), (2, 0), (0, 3)]
    bulk = [(3, 0), (1, 0), (4, 0), (3, 0), (0, 1), (0, 2), (0, 3), (2, 2), (4, 1), (1, 4)]
    await check_load_matches_following(servers.postgres_dsn, before, bulk)
