"""Settings: one object, defaults from the seed's figures, read from flags and CHIRP_* vars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

#: Partitions per topic, from the seed's design (tweet_created is the busiest).
DEFAULT_PARTITIONS: dict[str, int] = {
    "tweet_created": 100,
    "tweet_deleted": 50,
    "like_added": 50,
    "retweet_created": 50,
    "tweet_edited": 50,
    "like_removed": 50,
    "user_followed": 50,
    "user_unfollowed": 50,
    "user_changed": 10,  # sign-ups and profile changes, for search
}

PositiveFloat = Annotated[float, Field(gt=0)]

#: Which servers may hold each group of stores (besides ``memory``, the embedded default).
BACKEND_SCHEMES: dict[str, tuple[str, ...]] = {
    "users": ("postgresql", "postgres"),
    "tweets": ("dynamodb",),
    "cache": ("redis",),
    "log": ("redis",),
}


class Settings(BaseSettings):
    """Everything chirp can be told. Environment variables are ``CHIRP_`` + the field name in
    capitals (``CHIRP_PORT=9000``); command-line flags win over them. Secrets are `SecretStr`
    so they never show in a repr or a log line."""

    model_config = SettingsConfigDict(env_prefix="CHIRP_", frozen=True, extra="forbid")

    #: Where the stores live: ``memory`` (this process) or a server. ``users`` holds
    #: accounts, the follow graph, likes and retweets (``postgresql://``); ``tweets`` the
    #: tweets (``dynamodb://host:port``, or ``dynamodb://`` for AWS itself); ``cache`` the
    #: feed, tweet and trending caches, inboxes, rate limits and activity (``redis://``);
    #: ``log`` the event log (``redis://``, on Streams).
    users: str = "memory"
    tweets: str = "memory"
    cache: str = "memory"
    log: str = "memory"
    #: Keeps deployments sharing servers apart: the Redis key prefix (``name:``), the
    #: PostgreSQL schema, the DynamoDB table prefix (``name_``). Empty: the seed's own
    #: key names, schema ``public`` and tables ``chirp_*``.
    namespace: str = Field("", pattern=r"^([a-z][a-z0-9_]{0,39})?$")
    #: A partition's consumer lease (several processes sharing a Redis log): renewed
    #: every third of this, taken over by another process once it lapses.
    lease_seconds: PositiveFloat = 10.0
    #: Where the embedded stores are kept so that every acknowledged write survives a
    #: restart, ``kill -9`` included: a journal, snapshots and the search index. None:
    #: in memory only, gone with the process. Embedded stores only.
    data_dir: Path | None = None
    #: With ``data_dir``: journal entries after which the stores are snapshotted (and the
    #: journal before the snapshot deleted), so a start-up replays at most about this many.
    snapshot_every: PositiveInt = 200_000

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: Bearer token for /admin; generated and printed at start-up when not given.
    admin_token: SecretStr | None = None

    #: Topic → partition count. Given counts override these defaults one topic at a time.
    partitions: dict[str, PositiveInt] = Field(default_factory=lambda: dict(DEFAULT_PARTITIONS))
    log_retention_hours: PositiveFloat = 7 * 24.0
    log_retention_bytes: PositiveInt = 32 * 1024 * 1024  # per partition, in the embedded log
    mailbox_size: PositiveInt = 1024

    #: Restart intensity of each supervisor: at most this many restarts in the window.
    max_restarts: PositiveInt = 100
    restart_window: PositiveFloat = 10.0
    #: A subtree whose supervisor gave up comes back after this many seconds, doubling
    #: while it keeps giving up, up to the ceiling: a crash loop that does not spend the
    #: root's intensity (and the process) in a millisecond, reported on /readyz meanwhile.
    restart_backoff: PositiveFloat = 1.0
    restart_backoff_max: PositiveFloat = 30.0
    #: How long in-flight requests may take to finish once shutdown starts.
    shutdown_grace: PositiveFloat = 10.0
    max_body_bytes: PositiveInt = 64 * 1024

    #: HS256 key for access and refresh tokens; generated per process when unset, which
    #: is fine for one process (tokens end with it) and wrong for several.
    jwt_secret: SecretStr | None = None
    access_token_ttl: PositiveInt = 3600
    refresh_token_ttl: PositiveInt = 30 * 24 * 3600
    #: argon2id cost: OWASP's minimum by default (19 MiB, 2 passes).
    password_memory_kib: PositiveInt = 19 * 1024
    password_time_cost: PositiveInt = 2

    #: This process's Snowflake worker id. Unset, it is 0 for an embedded log and leased
    #: in Redis (the lowest free) for a shared one, so processes never make the same id.
    worker_id: int | None = Field(None, ge=0, le=1023)
    #: Spam rules: more links than this in one tweet are refused, and so is the same text
    #: from the same user within the hour.
    spam_max_links: PositiveInt = 5

    #: The gateway's token buckets, per hour (the seed's figures; benchmarks raise them).
    rate_tweets_per_user: PositiveInt = 100
    rate_calls_per_user: PositiveInt = 1_000
    rate_requests_per_ip: PositiveInt = 10_000
    rate_logins_per_account: PositiveInt = 10
    #: The feed cache: cache-node actors (Redis Cluster nodes, embedded) and fan-out shards.
    cache_nodes: PositiveInt = 3
    fanout_shards: PositiveInt = 4
    #: Hybrid fan-out: push to all followers below this many, to the active ones up to
    #: ``fanout_pull_above``, to nobody above (merged at read time).
    fanout_push_all_below: PositiveInt = 1_000
    fanout_pull_above: PositiveInt = 100_000
    #: ``hybrid`` (the seed's tiers, above), or everyone pushed to, or everyone pulled:
    #: the two classic designs, for comparing feed architectures on the same server.
    fanout_mode: Literal["hybrid", "push", "pull"] = "hybrid"
    #: "Active lately" for the middle tier: an authenticated request within this many days.
    fanout_active_days: PositiveFloat = 7.0
    #: Cache lifetimes: a feed this long after its last read, a hydrated tweet this long.
    feed_ttl_seconds: PositiveFloat = 300.0
    tweet_ttl_seconds: PositiveFloat = 600.0

    #: Trending: a table per region (a user's profile picks one) and per category (a tweet
    #: belongs to it if it uses one of the category's hashtags); the score's terms are
    #: defined in chirp/trending.py.
    trend_regions: list[str] = Field(default_factory=lambda: ["global", "us", "uk"])
    trend_categories: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "tech": ["tech", "python", "programming", "ai", "opensource", "linux", "rust"],
            "sports": ["sports", "football", "soccer", "nba", "tennis", "cricket", "f1"],
        }
    )
    trend_window_seconds: PositiveFloat = 600.0
    trend_min_authors: PositiveInt = 3
    trend_mention_weight: float = 1000.0
    trend_velocity_weight: float = 500.0
    trend_age_weight: float = 10.0
    #: Seconds between rescores (decay, cold tags leaving), and how long a trending response
    #: is served from the gateway's cache: the seed's minute for both. A demo or a browser
    #: test wants a tag to show within a second or two.
    trend_rescore_seconds: PositiveFloat = 60.0
    trend_cache_seconds: NonNegativeFloat = 60.0

    #: Proxies (addresses or networks) whose X-Forwarded-For is believed; none by default.
    trusted_proxies: list[str] = Field(default_factory=list)

    @classmethod
    def load(cls, config_file: Path | None = None, **overrides: Any) -> Settings:
        """Settings from ``overrides`` (flags), then ``CHIRP_*`` variables, then
        ``config_file`` (TOML, the field names as keys), then the defaults."""
        if config_file is None:
            return cls(**overrides)
        if not config_file.is_file():
            raise ValueError(f"no config file at {config_file}")

        class FromFile(cls):  # type: ignore[misc, valid-type]
            @classmethod
            def settings_customise_sources(
                cls,
                settings_cls: type[BaseSettings],
                init_settings: PydanticBaseSettingsSource,
                env_settings: PydanticBaseSettingsSource,
                dotenv_settings: PydanticBaseSettingsSource,
                file_secret_settings: PydanticBaseSettingsSource,
            ) -> tuple[PydanticBaseSettingsSource, ...]:
                toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file)
                return (init_settings, env_settings, toml)

        return cls.model_validate(FromFile(**overrides).model_dump())

    @field_validator("users", "tweets", "cache", "log", mode="after")
    @classmethod
    def _known_backend(cls, value: str, info: Any) -> str:
        if value == "memory":
            return value
        schemes = BACKEND_SCHEMES[info.field_name]
        if urlsplit(value).scheme not in schemes:
            wanted = " or ".join(f"{s}://" for s in schemes)
            raise ValueError(f"{info.field_name} is memory or a {wanted} URL")
        return value

    @field_validator("partitions", mode="after")
    @classmethod
    def _over_defaults(cls, value: dict[str, int]) -> dict[str, int]:
        return {**DEFAULT_PARTITIONS, **value}

    @model_validator(mode="after")
    def _feeds_outlive_no_activity(self) -> Settings:
        # A cached feed must belong to someone the middle tier still pushes to: its
        # last read made them active, and they must stay so until it expires.
        if self.fanout_active_days * 86400 <= self.feed_ttl_seconds:
            raise ValueError("fanout_active_days must be longer than feed_ttl_seconds")
        if "global" not in self.trend_regions:
            raise ValueError("trend_regions must include global: every tweet counts there")
        if set(self.trend_regions) & set(self.trend_categories):
            raise ValueError("a trending table cannot be both a region and a category")
        servers = [name for name in BACKEND_SCHEMES if getattr(self, name) != "memory"]
        if self.data_dir is not None and servers:
            # The servers keep their own data, by their own settings; a data directory
            # beside them would hold half a state.
            raise ValueError(
                f"data_dir keeps the embedded stores, but {', '.join(servers)} "
                f"{'is' if len(servers) == 1 else 'are'} configured on a server: use one or "
                "the other"
            )
        if self.users != "memory" and self.jwt_secret is None:
            # Tokens signed with a key made at start-up die with the process, while the
            # accounts they stand for live on in the shared database.
            raise ValueError("jwt_secret must be set when users live in a database")
        if self.fanout_push_all_below > self.fanout_pull_above + 1:
            raise ValueError("fanout_push_all_below must not exceed fanout_pull_above + 1")
        if self.restart_backoff > self.restart_backoff_max:
            raise ValueError("restart_backoff must not exceed restart_backoff_max")
        return self

    @field_validator("admin_token", mode="after")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the admin token must be at least 16 characters")
        return value

    @field_validator("jwt_secret", mode="after")
    @classmethod
    def _strong_key(cls, value: SecretStr | None) -> SecretStr | None:
        # RFC 7518 §3.2: an HS256 key at least as long as the hash, 256 bits.
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("the JWT secret must be at least 32 bytes")
        return value
