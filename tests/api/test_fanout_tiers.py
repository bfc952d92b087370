"""The seed's three fan-out tiers at their real thresholds, with real follower counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import trio

from chirp.fanout_policy import Tier

from .conftest import running
from .test_feed import settle

#: 200,000 edges loaded in bulk and the cache nodes' request counts: the embedded stores'.
pytestmark = pytest.mark.embedded_only


async def test_each_tier_takes_its_path_at_the_seeds_thresholds(nursery: trio.Nursery) -> None:
    chirp = await running(nursery)  # 1,000 and 100,000: the defaults
    users, tweets = chirp.services.users, chirp.services.tweets
    graph, activity = chirp.stores.graph, chirp.stores.activity
    authors = {}
    for name in ("small", "middle", "star"):
        view, _ = await users.register(
            username=name, email=f"{name}@example.org", password="long enough pw"
        )
        authors[name] = view.user.user_id
    followers = {"small": 999, "middle": 100_000, "star": 100_001}
    now = datetime.now(UTC)
    for name, count in followers.items():  # followers need no account to be counted
        graph.load((fan, authors[name]) for fan in range(1, count + 1))
    active = range(1, 100_001, 1000)  # 100 of the middle author's followers were seen lately
    for fan in active:
        await activity.touch(fan, now.timestamp())
    assert (await graph.counts([authors["star"]]))[authors["star"]][0] == 100_001

    writes = chirp.fanout.writes
    for name, expected in (
        ("small", {Tier.PUSH_ALL: 1 + 999}),
        ("middle", {Tier.PUSH_ACTIVE: 1 + len(active)}),
        ("star", {Tier.PULL: 1}),
    ):
        writes.clear()
        requests = chirp.stores.cache.requests
        await tweets.post(authors[name], f"hello from {name}")
        await settle(chirp)
        assert writes == expected, name
        if name == "small":
            # 1,000 entries in batches of 100 per node (one part-filled batch each), and
            # the tweet cache's read and fill for the reply: a dozen requests, not 1,000.
            nodes = chirp.settings.cache_nodes
            assert chirp.stores.cache.requests - requests <= 1000 // 100 + nodes + 2
