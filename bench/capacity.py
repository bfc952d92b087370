"""The capacity model: from per-process figures measured in this run, how many chirp
processes (one core each) the seed's peak needs, and what the feed caches take for
100M active users at 1,000 entries each, beside the seed's own arithmetic.

Feed-cache bytes per entry are measured here too: a full embedded feed ring, and (when
Redis answers) ``MEMORY USAGE`` of a full ``feed:{id}`` list of Snowflake-sized ids.
"""

from __future__ import annotations

import math
import random
import secrets

import trio

from storage.memory.cachenode import FEED_INDEX_BYTES
from storage.memory.feedring import FeedRing

from .results import Figure

#: The seed's capacity table: requests per second at its peak, by kind. The HTTP
#: bench's capacity mix draws requests in these proportions.
CAPACITY_MIX = {
    "tweet": 20_000,
    "like": 100_000,
    "retweet": 10_000,
    "feed": 150_000,
    "tweet view": 50_000,
    "profile view": 20_000,
}
#: The peaks the issue sizes processes for, each alone.
PEAK = {"feed reads": 150_000, "tweets": 20_000, "likes": 100_000}
ACTIVE_USERS = 100_000_000
FEED_ENTRIES = 1_000
#: The seed's own estimate: 8-byte tweet ids and nothing else.
SEED_BYTES_PER_ENTRY = 8
FIRST_ID = 7_300_000_000_000_000_000


def snowflakes(count: int, seed: int = 5) -> list[int]:
    rng = random.Random(seed)
    ids, current = [], FIRST_ID
    for _ in range(count):
        current += rng.randrange(1, 1 << 30)
        ids.append(current)
    return ids


def embedded_bytes_per_entry() -> float:
    """A full ring with what indexes it (its key, expiry and pair in the node's dict),
    as the cache node counts it."""
    ring = FeedRing(FEED_ENTRIES, snowflakes(FEED_ENTRIES))
    return (ring.footprint + FEED_INDEX_BYTES) / FEED_ENTRIES


async def _redis_bytes_per_entry(url: str) -> float:
    from storage.redis import RedisStores, open_redis

    prefix = f"capacity{secrets.token_hex(4)}:"
    async with open_redis(url) as client:
        cache = RedisStores(client, prefix=prefix).feed_cache
        try:
            await cache.store_feed(1, snowflakes(FEED_ENTRIES))
            used = await client.memory_usage(f"{prefix}feed:{{1}}", samples=0)
        finally:
            await cache.drop_feed(1)
    return float(used or math.nan) / FEED_ENTRIES


def redis_bytes_per_entry(url: str) -> float:
    return trio.run(_redis_bytes_per_entry, url)


def processes_for(per_process: float, peak: float) -> int:
    return math.ceil(peak / per_process) if per_process > 0 else 0


def model(
    rates: dict[str, float], mix_rate: float, bytes_per_entry: dict[str, float]
) -> tuple[list[Figure], str]:
    """``rates``: per-process figures by `PEAK` key; ``mix_rate``: the capacity mix's
    requests/s per process; ``bytes_per_entry``: per feed-cache backend."""
    rows: list[Figure] = []
    lines = ["capacity at the seed's peak (one process = one core, as measured here)"]
    for what, peak in PEAK.items():
        rate = rates.get(what)
        if not rate:
            continue
        needed = processes_for(rate, peak)
        rows.append(Figure(f"processes for {peak:,} {what}/s alone", needed, "processes"))
        lines.append(
            f"  {what:<11} {peak:>8,}/s at {rate:>9,.0f}/s a process: {needed:>6,} processes"
        )
    total = sum(CAPACITY_MIX.values())
    if mix_rate:
        needed = processes_for(mix_rate, total)
        rows.append(Figure(f"processes for the whole mix ({total:,}/s)", needed, "processes"))
        lines.append(
            f"  the whole capacity mix, {total:,} requests/s at {mix_rate:,.0f}/s a process: "
            f"{needed:,} processes (cores)"
        )
    seed_gb = ACTIVE_USERS * FEED_ENTRIES * SEED_BYTES_PER_ENTRY / 1e9
    lines.append(
        f"feed caches for {ACTIVE_USERS / 1e6:,.0f}M users x {FEED_ENTRIES:,} entries: "
        f"the seed's estimate ({SEED_BYTES_PER_ENTRY} B an id) {seed_gb:,.0f} GB"
    )
    for backend, per_entry in bytes_per_entry.items():
        if math.isnan(per_entry):
            continue
        gb = ACTIVE_USERS * FEED_ENTRIES * per_entry / 1e9
        rows.append(
            Figure(
                f"feed-cache memory, {backend}",
                gb,
                "GB",
                "the seed's estimate (8 B an id)",
                seed_gb,
                lower_is_better=True,
            )
        )
        lines.append(f"  {backend:<9} {per_entry:5.1f} B an entry measured: {gb:,.0f} GB")
    return rows, "\n".join(lines)
