"""How long the feed cache keeps what it holds: every backend of it reads the same figures."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CacheTTL:
    """How long entries live: hydrated tweets 10 minutes; a feed 5 minutes after its last
    read (the seed's inactive-user TTL; a push does not extend it); a celebrity's recent
    tweets 10 minutes after they were loaded, so a push lost to a race heals by then."""

    tweet: float = 600.0
    feed: float = 300.0
    celeb: float = 600.0
    feed_capacity: int = 1000
    celeb_capacity: int = 200
