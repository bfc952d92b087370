"""Where ``python -m bench soak`` keeps its server's stores: in the process (embedded) or
on the production servers under a namespace of the run's own, dropped afterwards."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import trio

from chirp.backends import drop_namespace, redacted_netloc
from chirp.config import Settings

from .servers import CLEANUP_SECONDS, check_answers, check_postgres
from .traced_server import DIRECTORY_VARIABLE

if TYPE_CHECKING:
    from .soak import SoakOptions

EMBEDDED, PRODUCTION = "embedded", "production"
MODES = (EMBEDDED, PRODUCTION)
TWEET_STORES = ("memory", "dynamodb")
#: The development machines' servers (DEVELOPERS.md), as the tests and ``bench backends``.
REDIS_URL = "redis://127.0.0.1:6379/0"
POSTGRES_DSN = "postgresql://root@127.0.0.1:5432/test"


@dataclass(frozen=True)
class Deployment:
    """Where the soak's server keeps its stores: its environment (beside `bench_env`),
    the settings naming the run's namespace on the servers (None when embedded: nothing
    outlives the process), and for the report, the mode, where each store lives and what
    the process itself keeps per tweet."""

    mode: str
    env: dict[str, str]
    settings: Settings | None
    where: str
    in_process: str


#: The settings naming each group of stores, by their environment variable.
STORE_VARIABLES = {
    "users": "CHIRP_USERS",
    "tweets": "CHIRP_TWEETS",
    "cache": "CHIRP_CACHE",
    "log": "CHIRP_LOG",
}
SEARCH_IN_PROCESS = (
    "the search index's document (tantivy, native memory) and its two entries in the "
    "indexer's dicts (tweet id to version, to hashtags); and, until it holds 65,536, its "
    "created_at in the API's timestamp cache (chirp/api/views.py)"
)


def embedded_deployment() -> Deployment:
    # Each group named, so a CHIRP_* variable of the bench's own shell cannot move one.
    return Deployment(
        mode=EMBEDDED,
        env={variable: "memory" for variable in STORE_VARIABLES.values()},
        settings=None,
        where="embedded: every store in the server's process (tweets, users, the graph, "
        "likes, the caches, the event log, the search index)",
        in_process="every store's share: the tweet record and its index entries, its "
        "event-log records, its feed and tweet-cache entries; " + SEARCH_IN_PROCESS,
    )


def deployment(
    options: SoakOptions,
    *,
    namespace: str = "",
    jwt_secret: str = "",
    dynamodb_endpoint: str | None = None,
) -> Deployment:
    """Where ``options`` put the stores. In production every store on a server lives under
    ``namespace``, and ``jwt_secret`` signs the tokens (chirp requires one when accounts
    live in a database); ``dynamodb_endpoint`` (``http://host:port``) is where tweets go
    with ``--tweet-store dynamodb``. Raises ValueError for settings chirp would refuse."""
    if options.backends == EMBEDDED:
        return embedded_deployment()
    if options.tweet_store == "dynamodb" and dynamodb_endpoint is None:
        raise ValueError("--tweet-store dynamodb needs the DynamoDB endpoint")
    tweets = (
        "memory"
        if options.tweet_store == "memory"
        else f"dynamodb://{urlsplit(dynamodb_endpoint).netloc}"
    )
    # Validated here as the server will: a bad namespace or a short key fails before
    # anything starts.
    settings = Settings(
        users=options.postgres,
        tweets=tweets,
        cache=options.redis,
        log=options.redis,
        namespace=namespace,
        jwt_secret=jwt_secret,
    )
    if not settings.namespace:
        raise ValueError("a production soak runs in a namespace of its own")
    env = {variable: getattr(settings, name) for name, variable in STORE_VARIABLES.items()}
    env |= {"CHIRP_NAMESPACE": namespace, "CHIRP_JWT_SECRET": jwt_secret}
    redis = redacted_netloc(options.redis)
    tweet_place = (
        "tweets in the server's process (chirp keeps tweets in memory or on DynamoDB only: "
        "--tweet-store dynamodb moves them)"
        if tweets == "memory"
        else f"tweets on DynamoDB {redacted_netloc(dynamodb_endpoint or '')} (tables {namespace}_*)"
    )
    where = (
        f"production, namespace {namespace}: users, follows, likes and retweets on "
        f"PostgreSQL {redacted_netloc(options.postgres)} (schema {namespace}); the feed, "
        f"tweet and trending caches, inboxes, rate limits, activity and the event log on "
        f"Redis {redis} (keys {namespace}:*); {tweet_place}; the search index in the "
        "server's process (by design)"
    )
    in_process = (
        SEARCH_IN_PROCESS
        if tweets != "memory"
        else "the tweet in the memory tweet store (the record, its id in its author's "
        "timeline and in each of its hashtags' lists), and " + SEARCH_IN_PROCESS
    )
    return Deployment(PRODUCTION, env, settings, where, in_process)


def server_launch(options: SoakOptions, heap_dir: Path | None) -> tuple[list[str], dict[str, str]]:
    """The server's arguments (to ``python``, from the repository) and the environment
    ``--tracemalloc`` adds: tracing from start-up with the standard variable, and the
    folder `bench.traced_server` writes its heap figures to."""
    if not options.tracemalloc:
        return ["main.py", "--port", "0"], {}
    if heap_dir is None:
        raise ValueError("--tracemalloc wants a folder for the heap figures")
    env = {"PYTHONTRACEMALLOC": "1", DIRECTORY_VARIABLE: str(heap_dir)}
    return ["-m", "bench.traced_server", "--port", "0"], env


def check_servers(options: SoakOptions) -> None:
    """Raise `Unreachable`, in one line, unless production's servers answer."""
    if options.backends != PRODUCTION:
        return
    check_answers("Redis", options.redis, 6379)
    check_answers("PostgreSQL", options.postgres, 5432)
    check_postgres(options.postgres)


@contextmanager
def dropped_afterwards(settings: Settings | None, say: Callable[[str], None]) -> Iterator[None]:
    """The block, then ``settings.namespace`` dropped from its servers (its Redis keys,
    PostgreSQL schema and DynamoDB tables, nothing else) however the block ends. Nothing
    for None. A drop that fails is told, with what to drop by hand, and does not replace
    the block's own exception. Stop the server inside the block: one still running would
    write again."""
    if settings is None:
        yield
        return
    try:
        yield
    finally:
        namespace = settings.namespace
        try:
            trio.run(drop_within, settings)
        except Exception as exc:  # noqa: BLE001 - told, with the way to finish by hand
            say(
                f"  could NOT drop namespace {namespace} ({type(exc).__name__}: {exc}): drop "
                f"it by hand: redis-cli --scan --pattern '{namespace}:*' | xargs redis-cli "
                f"del; psql -c 'DROP SCHEMA {namespace} CASCADE'"
            )
        else:
            say(f"  dropped namespace {namespace} (its Redis keys and PostgreSQL schema)")


async def drop_within(settings: Settings) -> None:
    with trio.fail_after(CLEANUP_SECONDS):
        await drop_namespace(settings)


@contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the block, as Ctrl-C does, so that the server
    is stopped and the namespace dropped when the bench is told to end."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
