"""``python -m bench all``: every scenario in one run, a progress bar over them, then the
table, and ``bench/results/<timestamp>/`` (results.json, report.md, plots).

``--quick`` runs each scenario small (about a minute in all on two cores): the same code
and the same ratios, on less data and shorter loads, so figures are noisier. A scenario
that fails ends the run, but the report of those before it is still written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from tqdm import tqdm

from . import actors, capacity, feed, over_http, read, recovery, redis_ceilings, report, write
from .results import Section
from .servers import Unreachable, check_answers


@dataclass(frozen=True)
class Sizes:
    messages: int
    events: int
    repeat: int
    tweets: int
    feed_graphs: tuple[str, ...]
    feed_users: int
    feed_tweets: int
    feed_reads: int
    read_users: int
    read_tweets: int
    read_reads: int
    burst: int
    http: over_http.HttpOptions
    redis: redis_ceilings.Sizes = redis_ceilings.Sizes()
    recovery_events: int = recovery.EVENTS


FULL = Sizes(
    messages=200_000,
    events=200_000,
    repeat=3,
    tweets=20_000,
    feed_graphs=("reed98", "power-law"),
    feed_users=120_000,
    feed_tweets=20_000,
    feed_reads=20_000,
    read_users=2_000,
    read_tweets=20_000,
    read_reads=5_000,
    burst=1_000,
    http=over_http.HttpOptions(),
)
QUICK = Sizes(
    messages=20_000,
    events=20_000,
    repeat=1,
    tweets=2_000,
    feed_graphs=("reed98",),
    feed_users=5_000,
    feed_tweets=2_000,
    feed_reads=2_000,
    read_users=300,
    read_tweets=2_000,
    read_reads=500,
    burst=100,
    http=over_http.HttpOptions(users=150, tweets_per_user=3, seconds=2.0, open_seconds=2.0),
    redis=redis_ceilings.QUICK,
    recovery_events=50_000,
)
SCENARIOS = ("actors", "write", "feed", "read", "recovery", "http", "redis", "capacity")


def scenario_steps(
    sizes: Sizes, redis: str | None, say: Callable[[str], None]
) -> list[tuple[str, Callable[[list[Section]], Section]]]:
    """Each scenario as a step taking the sections before it (capacity reads http's);
    without a Redis server, no Redis step."""
    work = feed.Workload(
        tweets=sizes.feed_tweets, writers=64, reads=sizes.feed_reads, active_share=0.5
    )
    steps = [
        ("actors", lambda _: actors.section(sizes.messages, sizes.events, sizes.repeat)),
        ("write", lambda _: write.section(sizes.tweets, sizes.repeat)),
        ("feed", lambda _: feed.section(list(sizes.feed_graphs), sizes.feed_users, work, say)),
        (
            "read",
            lambda _: read.section(
                sizes.read_users, sizes.read_tweets, sizes.read_reads, sizes.burst
            ),
        ),
        (
            "recovery",
            lambda _: recovery.section(sizes.recovery_events, sizes.tweets // 4, sizes.repeat),
        ),
        ("http", lambda _: over_http.section(sizes.http, say)),
        ("capacity", partial(capacity_section, redis=redis)),
    ]
    if redis:
        steps.insert(-1, ("redis", lambda _: redis_ceilings.section(redis, sizes.redis)))
    return steps


def capacity_section(before: list[Section], *, redis: str | None) -> Section:
    http = next((s for s in before if s.scenario == "http"), None)
    rates: dict[str, float] = {}
    mix = 0.0
    if http is not None:
        runs = http.data["runs"]
        posted = runs["POST /tweet"]
        rates = {
            "feed reads": runs["GET /feed (100)"]["rate"],
            # A tweet costs its fan-out too: the rate with the backlog drained.
            "tweets": posted["requests"] / (posted["seconds"] + http.data["tweet_drain_seconds"]),
            "likes": runs["POST like"]["rate"],
        }
        mix = runs["capacity mix"]["rate"]
    per_entry = {"embedded": capacity.embedded_bytes_per_entry()}
    if redis:
        per_entry["redis"] = capacity.redis_bytes_per_entry(redis)
    figures, text = capacity.model(rates, mix, per_entry)
    return Section("capacity", "Capacity model", figures, text, {"bytes_per_entry": per_entry})


def main(
    *,
    quick: bool = False,
    only: list[str] | None = None,
    redis: str | None = None,
    out: Path | None = None,
    sizes: Sizes | None = None,
) -> Path:
    sizes = sizes or (QUICK if quick else FULL)
    if redis:
        try:
            check_answers("Redis", redis, 6379)
        except Unreachable as exc:
            print(f"bench all: {exc}; the Redis feed-cache figure is left out")
            redis = None
    steps = [
        (n, s) for n, s in scenario_steps(sizes, redis, lambda _: None) if not only or n in only
    ]
    sections: list[Section] = []
    with tqdm(total=len(steps), unit="scenario", dynamic_ncols=True) as bar:
        for name, step in steps:
            bar.set_description(name)
            sections.append(step(sections))
            bar.update(1)
    seeds = {"graphs": 1, "feed workload": 7, "http requests": sizes.http.seed}
    folder = report.write(sections, report.environment(seeds), out)
    print(report.console(sections))
    print(f"\nreport: {folder / 'report.md'}")
    return folder
