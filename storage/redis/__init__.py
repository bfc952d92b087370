"""The Redis backends: caches, trending, inboxes, rate limits and the event log (Streams)."""

from .activity import RedisActivityStore as RedisActivityStore
from .client import open_redis as open_redis
from .feedcache import RedisFeedCache as RedisFeedCache
from .notifications import RedisNotificationStore as RedisNotificationStore
from .ratelimits import RedisRateLimitStore as RedisRateLimitStore
from .stores import RedisStores as RedisStores
from .trends import RedisTrendStore as RedisTrendStore
