"""The schema: a numbered list of migrations, applied at start-up.

Each process applies what is missing when it opens the database, inside one transaction
holding an advisory lock on the schema, and records each version in ``schema_migrations``:
so opening twice changes nothing the second time, and two processes starting at once apply
each migration exactly once (the second waits for the first, then finds nothing to do).
A migration is never edited once released; a change is a new one at the end of the list.
"""

from __future__ import annotations

from typing import NamedTuple

import asyncpg


class Migration(NamedTuple):
    version: int
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "users",
        """
        CREATE TABLE users (
            user_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            username TEXT NOT NULL,
            email TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            display_name TEXT NOT NULL,
            bio TEXT NOT NULL DEFAULT '',
            profile_image_url TEXT,
            verified BOOLEAN NOT NULL DEFAULT false,
            region TEXT NOT NULL DEFAULT 'global',
            created_at TIMESTAMPTZ NOT NULL
        );
        -- Unique regardless of case, stored in the case given (the UserStore contract).
        CREATE UNIQUE INDEX users_username_key ON users (lower(username));
        CREATE UNIQUE INDEX users_email_key ON users (lower(email));
        """,
    ),
    Migration(
        2,
        "relationships",
        """
        CREATE TABLE relationships (
            follower_id BIGINT NOT NULL,
            followee_id BIGINT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            -- Orders both lists newest first and is their page cursor.
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            PRIMARY KEY (follower_id, followee_id)
        );
        CREATE INDEX relationships_followers ON relationships (followee_id, seq DESC)
            INCLUDE (follower_id);
        CREATE INDEX relationships_following ON relationships (follower_id, seq DESC)
            INCLUDE (followee_id);
        -- Kept in the same transaction as every edge change, so they never drift from
        -- the edges; the row lock lets concurrent unfollows each learn their own count,
        -- and a celebrity's count costs one row, not a scan of its followers.
        CREATE TABLE follow_counts (
            user_id BIGINT PRIMARY KEY,
            followers BIGINT NOT NULL DEFAULT 0,
            following BIGINT NOT NULL DEFAULT 0
        );
        """,
    ),
    Migration(
        3,
        "engagement",
        """
        -- Every query is by tweet, or by tweet and user: the primary keys serve them all.
        CREATE TABLE likes (
            user_id BIGINT NOT NULL,
            tweet_id BIGINT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (tweet_id, user_id)
        );
        CREATE TABLE retweets (
            user_id BIGINT NOT NULL,
            tweet_id BIGINT NOT NULL,
            retweet_id BIGINT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            PRIMARY KEY (tweet_id, user_id)
        );
        """,
    ),
)

#: The first key of the advisory lock taken while migrating ("chir"); the second is a hash
#: of the schema's name, so scratch schemas migrate without waiting on each other.
LOCK_CLASS = 0x63686972


def quote_ident(name: str) -> str:
    """``name`` as an SQL identifier, whatever it holds."""
    return '"' + name.replace('"', '""') + '"'


async def apply(
    connection: asyncpg.Connection,
    schema: str,
    migrations: tuple[Migration, ...] = MIGRATIONS,
) -> list[int]:
    """Create ``schema`` if it is missing and apply the migrations it has not had, in one
    transaction (all or nothing). ``connection``'s ``search_path`` must be ``schema``.
    Returns the versions applied now: empty when the schema was up to date. An asyncio
    coroutine: run it on the asyncio side of the bridge."""
    async with connection.transaction():
        await connection.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", LOCK_CLASS, schema
        )
        # Under the lock: concurrent CREATE ... IF NOT EXISTS can still collide. Asked
        # first, as CREATE SCHEMA wants the CREATE privilege even when the schema exists.
        if not await connection.fetchval(
            "SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = $1)", schema
        ):
            await connection.execute(f"CREATE SCHEMA {quote_ident(schema)}")
        await connection.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )
            """
        )
        done = {
            row["version"]
            for row in await connection.fetch("SELECT version FROM schema_migrations")
        }
        applied = []
        for migration in sorted(migrations):
            if migration.version in done:
                continue
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied.append(migration.version)
        return applied
