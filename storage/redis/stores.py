"""Every Redis-backed store over one client."""

from __future__ import annotations

import coredis

from storage.cache_ttl import CacheTTL

from .activity import RedisActivityStore
from .feedcache import RedisFeedCache
from .notifications import RedisNotificationStore
from .ratelimits import RedisRateLimitStore
from .trends import RedisTrendStore


class RedisStores:
    """The stores chirp keeps on Redis, sharing ``client``. ``prefix`` goes before every
    key, so several deployments (or test runs) can share one server."""

    def __init__(
        self, client: coredis.Redis, *, prefix: str = "", ttl: CacheTTL = CacheTTL()
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.feed_cache = RedisFeedCache(client, prefix=prefix, ttl=ttl)
        self.rate_limits = RedisRateLimitStore(client, prefix=prefix)
        self.activity = RedisActivityStore(client, prefix=prefix)
        self.trends = RedisTrendStore(client, prefix=prefix)
        self.notifications = RedisNotificationStore(client, prefix=prefix)

    @staticmethod
    def client_of(store: object) -> coredis.Redis:
        """The client behind one of these stores (for tools and tests that reach past
        the store, e.g. to delete a deployment's keys)."""
        return store._client  # type: ignore[attr-defined,no-any-return]
