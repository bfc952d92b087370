"""The business services, one per box of the seed's design; rules live here and only here."""

from __future__ import annotations

from dataclasses import dataclass

from .dashboard import DashboardService
from .feeds import FeedService
from .metrics import MetricsService
from .notifications import NotificationService
from .operations import OperationsService
from .ratelimits import RateLimitService
from .search import SearchService
from .trending import TrendingService
from .tweets import TweetService
from .users import UserService


@dataclass(frozen=True)
class Services:
    """Every service the API may call, built by the composition root."""

    operations: OperationsService
    users: UserService
    tweets: TweetService
    limits: RateLimitService
    feeds: FeedService
    trending: TrendingService
    search: SearchService
    notifications: NotificationService
    metrics: MetricsService
    dashboard: DashboardService
