"""The embedded backends: everything in this process, the real topology played by actors."""

from .activity import MemoryActivityStore as MemoryActivityStore
from .engagement import MemoryEngagementStore as MemoryEngagementStore
from .eventlog import MemoryEventLog as MemoryEventLog
from .feedcache import MemoryFeedCache as MemoryFeedCache
from .graph import MemoryGraphStore as MemoryGraphStore
from .notifications import MemoryNotificationStore as MemoryNotificationStore
from .partition import Retention as Retention
from .ratelimits import MemoryRateLimitStore as MemoryRateLimitStore
from .trends import MemoryTrendStore as MemoryTrendStore
from .tweets import MemoryTweetStore as MemoryTweetStore
from .users import MemoryUserStore as MemoryUserStore
