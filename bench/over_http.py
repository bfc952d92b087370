"""``python -m bench http``: chirp over HTTP, each figure beside a ceiling of the same run.

The server is ``python main.py`` (embedded default) pinned to one core; the load comes
from the other (wrk for closed loops, `bench.openloop` at fixed rates). The graph is
socfb-Reed98 (or its ``--users`` most connected accounts), seeded over the API: every account
signs up once and its token is reused; the bench's config raises the rate limits and
lowers the password hash's cost (sign-up is not measured).

  endpoints   closed loop per endpoint: GET /feed (100 tweets, warm), user timelines,
              tweet and profile views, then POST /tweet, likes and retweets
  mixes       the DeathStarBench mix (60% home timeline, 30% user timeline, 10% compose;
              pages of 10) and the seed's capacity mix
  open loop   GET /feed at 25/50/75% of its closed-loop maximum, latency from each
              request's intended send time
  ceilings    the same stack (hypercorn + quart-trio) answering constants: per run, the
              same sequence of request kinds, a GET by a body of the size chirp answered
              that kind with, a POST by parsing the body and answering 201; the open loop
              at the same rates; and the mainstream asyncio stack (uvicorn + starlette)
              answering the feed's constant and the POST, for reference

Before every chirp run the server is let settle (its CPU goes quiet), so the fan-out a
write run left behind does not slow the next run; the tweet rate is also given with that
drain included.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import trio

from .capacity import CAPACITY_MIX
from .graphs import Graph, power_law, reed98
from .http_requests import FEED_TWEETS, Kinded, Requests, ceiling_of, measure_sizes, requests_of
from .load import LoadResult, Request
from .openloop import run_open_loop
from .processes import LOAD_CPU, Server, served
from .results import Figure, Section, figures_table
from .seeding import seed
from .wrk import run_wrk

#: Targets the issue sets, as ratios to the stack's ceiling.
FEED_TARGET, POST_TARGET, P99_TARGET = 0.8, 0.7, 3.0
OPEN_LOOP_SHARES = (0.25, 0.5, 0.75)
FEED_PAGE = 100
DSB_MIX = {"home timeline": 60, "user timeline": 30, "tweet": 10}
ENDPOINTS = {
    "GET /feed (100)": "feed",
    "GET user timeline (10)": "user timeline",
    "GET tweet": "tweet view",
    "GET profile": "profile view",
    "POST /tweet": "tweet",
    "POST like": "like",
    "POST retweet": "retweet",
}
#: Enough requests that a closed-loop run of likes (each pair once) never wraps around
#: wrk's list, at up to this many requests/s.
MOST_PER_SECOND = 4_000
#: The open loop's connections: more than the server holds requests at once at 75% of its
#: maximum, so a late answer queues requests (as it should) rather than starving them.
OPEN_CONNECTIONS = 64
WARM_UP_SECONDS = 1.0


@dataclass(frozen=True)
class HttpOptions:
    users: int | None = None  # the graph's N most connected accounts; None: all of them
    #: socfb-Reed98 from ../shared/data, or a seeded power-law graph of ``users`` (1,000
    #: when None) for checkouts without it.
    graph: str = "reed98"
    tweets_per_user: int = 5  # at least; more when feeds would not fill a page
    seconds: float = 10.0  # per closed-loop run
    open_seconds: float = 10.0  # per open-loop run
    connections: int = 32  # wrk's, for chirp and the ceilings alike
    seed: int = 7


def bench_env() -> dict[str, str]:
    limit = str(10**9)
    return {
        "CHIRP_RATE_TWEETS_PER_USER": limit,
        "CHIRP_RATE_CALLS_PER_USER": limit,
        "CHIRP_RATE_REQUESTS_PER_IP": limit,
        "CHIRP_PASSWORD_MEMORY_KIB": "1024",
        "CHIRP_PASSWORD_TIME_COST": "1",
        # Given, so the server does not print a generated one into the bench's output.
        "CHIRP_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "CHIRP_LOG_LEVEL": "warning",
    }


def densest(graph: Graph, users: int | None) -> Graph:
    """The ``users`` accounts with the most follows and the follows among them, numbered
    afresh (all of the graph for None): a small run keeps a real graph's density, so
    feeds still fill."""
    if users is None or users >= graph.users:
        return graph
    degree = [0] * graph.users
    for follower, _ in graph.edges:
        degree[follower] += 1
    kept = sorted(range(graph.users), key=lambda user: -degree[user])[:users]
    number = {user: n for n, user in enumerate(kept)}
    edges = [(number[a], number[b]) for a, b in graph.edges if a in number and b in number]
    return Graph(f"{graph.name} (its {users} most connected)", users, edges)


def tweets_to_fill(graph: Graph, at_least: int) -> int:
    """Tweets per account for the median feed to hold more than a page of 100."""
    followees = [0] * graph.users
    for follower, _ in graph.edges:
        followees[follower] += 1
    median = max(1, sorted(followees)[graph.users // 2])
    return max(at_least, math.ceil(1.2 * FEED_PAGE / median))


@dataclass
class Runs:
    """Every load run by name (chirp's, and ``ceiling: <name>`` for its ceiling)."""

    results: dict[str, LoadResult] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)  # mean answer bytes per GET kind
    tweet_drain_seconds: float = 0.0  # fan-out still running after the POST /tweet run

    def rate(self, name: str) -> float:
        return self.results[name].rate

    def p99(self, name: str) -> float:
        return self.results[name].latency_ms["p99"]


def closed(server: Server, requests: list[Request], options: HttpOptions) -> LoadResult:
    result = run_wrk(
        server.url, requests, seconds=options.seconds, connections=options.connections, cpu=LOAD_CPU
    )
    return checked(result)


def opened(
    server: Server, requests: list[Request], rate: float, options: HttpOptions
) -> LoadResult:
    return checked(
        run_open_loop(
            server.url,
            requests,
            rate=rate,
            seconds=options.open_seconds,
            connections=OPEN_CONNECTIONS,
            cpu=LOAD_CPU,
        ),
        unanswered_ok=True,
    )


def checked(result: LoadResult, *, unanswered_ok: bool = False) -> LoadResult:
    """A run with an error status measured something else than it says: stop there.
    (Unanswered requests in the open loop are the server falling behind: reported.)"""
    bad = {status: n for status, n in result.statuses.items() if not 200 <= status < 300}
    if bad or (result.errors and not unanswered_ok):
        raise RuntimeError(f"load run answered {bad} with {result.errors} socket errors")
    return result


def warm_up(server: Server, requests: list[Request], options: HttpOptions) -> None:
    """A short run, not kept: connections, caches and the interpreter warm, for chirp and
    the ceilings alike."""
    run_wrk(
        server.url, requests, seconds=WARM_UP_SECONDS, connections=options.connections, cpu=LOAD_CPU
    )


def measure(options: HttpOptions, step: Callable[[str], None] = lambda _: None) -> Runs:
    whole = reed98() if options.graph == "reed98" else power_law(options.users or 1_000)
    graph = densest(whole, options.users)
    tweets = tweets_to_fill(graph, options.tweets_per_user)
    runs = Runs()
    per_run = int(MOST_PER_SECOND * options.seconds)
    step(f"seeding {graph.users:,} accounts, {len(graph.edges):,} follows, {tweets} tweets each")
    with served(["main.py", "--port", "0"], env=bench_env()) as chirp:
        seeded = trio.run(
            partial(seed, chirp.url, graph, tweets_per_user=tweets, seed=options.seed)
        )
        make = Requests(seeded, options.seed)
        runs.sizes = measure_sizes(chirp.url, make)
        loads: dict[str, Kinded] = {
            name: make.many(kind, per_run) for name, kind in ENDPOINTS.items()
        }
        loads["DeathStarBench mix"] = make.mix(DSB_MIX, per_run)
        loads["capacity mix"] = make.mix(CAPACITY_MIX, per_run)
        warm_up(chirp, requests_of(loads["GET /feed (100)"]), options)
        reads = [name for name in loads if name.startswith("GET")]
        writes = [name for name in loads if name not in reads]
        for name in reads:
            step(name)
            chirp.settle()
            runs.results[name] = closed(chirp, requests_of(loads[name]), options)
        # Right after the closed-loop reads: every write run makes feeds (and pages) grow.
        feeds = requests_of(loads["GET /feed (100)"])
        for share in OPEN_LOOP_SHARES:
            step(f"GET /feed open loop at {share:.0%}")
            chirp.settle()
            rate = share * runs.rate("GET /feed (100)")
            runs.results[f"open GET /feed {share:.0%}"] = opened(chirp, feeds, rate, options)
        for name in writes:
            step(name)
            chirp.settle()
            runs.results[name] = closed(chirp, requests_of(loads[name]), options)
            if name == "POST /tweet":
                runs.tweet_drain_seconds = chirp.settle()
    ceilings = {
        name: ceiling_of(kinded, runs.sizes)
        for name, kinded in loads.items()
        if name not in ("POST like", "POST retweet")  # the same as POST /tweet's
    }
    with served(["-m", "bench.ceilings", "quart"]) as quart:
        step("the stack's ceilings")
        warm_up(quart, ceilings["GET /feed (100)"], options)
        for name, requests in ceilings.items():
            runs.results[f"ceiling: {name}"] = closed(quart, requests, options)
        for share in OPEN_LOOP_SHARES:
            rate = runs.results[f"open GET /feed {share:.0%}"].target_rate or 0.0
            runs.results[f"ceiling: open GET /feed {share:.0%}"] = opened(
                quart, ceilings["GET /feed (100)"], rate, options
            )
    with served(["-m", "bench.ceilings", "starlette"]) as starlette:
        step("uvicorn + starlette")
        warm_up(starlette, ceilings["GET /feed (100)"], options)
        for name in ("GET /feed (100)", "POST /tweet"):
            runs.results[f"starlette: {name}"] = closed(starlette, ceilings[name], options)
    return runs


def figures(runs: Runs) -> list[Figure]:
    def versus(name: str, label: str, target: float | None = None) -> Figure:
        ceiling = "POST /tweet" if name.startswith("POST") else name
        what = "quart, same requests as constants"
        return Figure(
            label, runs.rate(name), "req/s", what, runs.rate(f"ceiling: {ceiling}"), target
        )

    rows = [
        versus(
            "GET /feed (100)",
            f"GET /feed ({runs.sizes[FEED_TWEETS]} tweets, {runs.sizes['feed']:,} B)",
            FEED_TARGET,
        ),
        versus("POST /tweet", "POST /tweet", POST_TARGET),
    ]
    drained = runs.results["POST /tweet"]
    rows.append(
        Figure(
            "POST /tweet with its fan-out drained",
            drained.requests / (drained.seconds + runs.tweet_drain_seconds),
            "req/s",
        )
    )
    for name in ("GET user timeline (10)", "GET tweet", "GET profile", "POST like", "POST retweet"):
        rows.append(versus(name, name))
    for name in ("DeathStarBench mix", "capacity mix"):
        rows.append(versus(name, name))
        for p in ("p50", "p99"):
            mine, ceiling = runs.results[name], runs.results[f"ceiling: {name}"]
            rows.append(
                Figure(
                    f"{name} {p}",
                    mine.latency_ms[p],
                    "ms",
                    f"quart, same mix, {p}",
                    ceiling.latency_ms[p],
                    lower_is_better=True,
                )
            )
    for share in OPEN_LOOP_SHARES:
        mine = runs.results[f"open GET /feed {share:.0%}"]
        unanswered = f", {mine.errors} unanswered" if mine.errors else ""
        rows.append(
            Figure(
                f"GET /feed p99 at {share:.0%} ({mine.target_rate or 0:,.0f}/s{unanswered})",
                mine.latency_ms["p99"],
                "ms",
                "quart constant p99, same rate",
                runs.p99(f"ceiling: open GET /feed {share:.0%}"),
                P99_TARGET if share == 0.5 else None,
                lower_is_better=True,
            )
        )
    for name, label in (("GET /feed (100)", "GET constant"), ("POST /tweet", "POST 201")):
        rows.append(
            Figure(
                f"quart {label} (the stack's ceiling)",
                runs.rate(f"ceiling: {name}"),
                "req/s",
                f"uvicorn + starlette {label}",
                runs.rate(f"starlette: {name}"),
            )
        )
    return rows


def section(options: HttpOptions, step: Callable[[str], None] = lambda _: None) -> Section:
    runs = measure(options, step)
    rows = figures(runs)
    sizes = ", ".join(
        f"{kind} {size:,} B" for kind, size in runs.sizes.items() if kind != FEED_TWEETS
    )
    text = figures_table(rows) + f"\nmean answer sizes: {sizes}"
    return Section(
        "http",
        f"chirp over HTTP (server on one core, load on the other; {options.seconds:g} s runs)",
        rows,
        text,
        {
            "sizes": runs.sizes,
            "tweet_drain_seconds": runs.tweet_drain_seconds,
            "runs": {name: result.to_json() for name, result in runs.results.items()},
        },
    )


def main(options: HttpOptions) -> None:
    print(section(options, lambda what: print(f"  {what}", flush=True)).text)
