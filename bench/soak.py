"""``python -m bench soak``: a steady mixed load over HTTP for minutes or hours, sampling
the server's memory and latency, to show a leak or a slow drift that a 10-second run
cannot (issue 9).

The server is ``python main.py`` pinned to one core, seeded over the API like ``python -m
bench http`` (the Reed98 graph's ``--users`` most connected accounts, their follows and
tweets, every feed warm). Then an open loop on the other core holds ``--rate`` requests/s
of `SOAK_MIX` for ``--minutes``, in back-to-back windows of ``--sample-seconds``: each
window is one `bench.openloop.open_loop` run (requests timed from when they were due),
and after it the server's RSS (VmRSS of ``/proc/<pid>/status``), its CPU and the tweets
it accepted (``chirp_writes_accepted_total{kind="tweet"}`` of ``/metrics``) are read. One
row is printed per window.

``--backends`` says where the server's stores live:
  embedded     (the default) every store in the server's process: tweets, users, the
               graph, likes, the caches, the event log and the search index. Its RSS
               grows with every tweet kept, which is data, not a leak.
  production   users, follows, likes and retweets on PostgreSQL (``--postgres``, schema
               = the run's namespace); the feed, tweet and trending caches, inboxes, rate
               limits, activity and the event log on Redis (``--redis``, keys prefixed by
               the namespace). Tweets stay in the server's process unless ``--tweet-store
               dynamodb`` puts them on DynamoDB (``--dynamodb URL``, or a dynalite started
               for the run): chirp keeps tweets only in memory or on DynamoDB. The search
               index is always in process (by design). The namespace is the run's own
               (``soak`` + 8 hex digits) and is dropped afterwards however the run ends:
               done, failed, Ctrl-C or SIGTERM (not SIGKILL). Each request costs the
               server Redis and PostgreSQL round trips: on the two-core development
               machine it kept up with about 50 requests/s of the mix, not the default
               200, so give it a ``--rate`` it can hold (an overloaded server's figures
               are its queue's).

The report: the mode and where each store lived; the RSS slope in MiB/hour (least squares
over the windows after the warm-up); the tweets posted during the load and the RSS growth
per 1,000 of them (RSS fitted against the server's tweet count over the same windows), so
a reader sees bytes per tweet; the p99 drift (median p99 of the last minute ÷ that of the
first minute) and the errors, each beside its target. Runs shorter than three minutes
use a third of the run in place of the minute. Ctrl-C ends the load at once and prints
the report of the windows completed; the server is always stopped.

``--tracemalloc`` runs the server with ``PYTHONTRACEMALLOC=1`` through
`bench.traced_server`, which writes tracemalloc's figures on SIGUSR2 (chirp has no
endpoint for them). The bench signals it at the end of the warm-up and at the end of the
load and reports Python's traced heap growth between the two beside the RSS growth, per
1,000 tweets, with the source lines that grew most: what Python allocated against what it
did not (tantivy's index, the allocator's free memory). Tracing costs CPU and memory of
its own, so that run's latency and RSS slope are not the untraced server's.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import signal
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path

import httpx
import trio

from .graphs import Graph, reed98
from .http_requests import Requests, requests_of
from .load import LoadResult, Request
from .openloop import open_loop
from .over_http import OPEN_CONNECTIONS, bench_env, densest, tweets_to_fill
from .processes import LOAD_CPU, Server, served
from .results import Figure, figures_table
from .seeding import HASHTAGS, Seeded, seed
from .servers import Unreachable, dynamodb
from .soak_heap import (
    HeapGrowth,
    HeapPoint,
    heap_point,
)
from .soak_stores import (
    EMBEDDED,
    MODES,
    POSTGRES_DSN,
    PRODUCTION,
    REDIS_URL,
    TWEET_STORES,
    Deployment,
    check_servers,
    deployment,
    dropped_afterwards,
    embedded_deployment,
    server_launch,
    terminated_as_interrupt,
)

#: The issue's mix, in percent: 70% home-feed reads (of which 5 points go to profile,
#: trending and search reads), 15% posts, 10% likes, 5% follows and unfollows.
SOAK_MIX = {
    "feed": 45,  # a page of 100
    "home timeline": 20,  # a page of 10
    "profile view": 2,
    "trending": 2,
    "search": 1,
    "tweet": 15,
    "like": 10,
    "follow or unfollow": 5,
}
#: Warm-up, and the span the p99 drift compares at each end of the run.
MINUTE = 60.0
#: The issue's bound on the last minute's p99 ÷ the first minute's.
DRIFT_TARGET = 1.5
#: "Flat" memory: the fitted growth in an hour at most this share of the RSS after warm-up.
FLAT_SHARE_PER_HOUR = 0.05
MIB = 1024 * 1024


@dataclass(frozen=True)
class SoakOptions:
    minutes: float = 10.0
    rate: float = 200.0  # requests/s; about 40% of the server's core here
    sample_seconds: float = 10.0
    users: int = 300  # Reed98's most connected accounts
    tweets_per_user: int = 5  # at least; more when feeds would not fill a page
    seed: int = 7
    backends: str = EMBEDDED  # one of MODES
    postgres: str = POSTGRES_DSN  # production: users, the graph, likes, retweets
    redis: str = REDIS_URL  # production: the caches and the event log
    tweet_store: str = "memory"  # production: "dynamodb" puts tweets there
    dynamodb: str | None = None  # with tweet_store "dynamodb"; None: start dynalite
    tracemalloc: bool = False

    def __post_init__(self) -> None:
        if self.backends not in MODES:
            raise ValueError(f"--backends is one of {', '.join(MODES)}, not {self.backends!r}")
        if self.tweet_store not in TWEET_STORES:
            raise ValueError(f"--tweet-store is memory or dynamodb, not {self.tweet_store!r}")
        if self.tweet_store != "memory" and self.backends != PRODUCTION:
            raise ValueError("--tweet-store dynamodb is part of --backends production")
        if self.dynamodb is not None and self.tweet_store != "dynamodb":
            raise ValueError(
                "--dynamodb names the tweet store's server: give --tweet-store dynamodb"
            )


@dataclass(frozen=True)
class Sample:
    """One window of the load, and the server as it was at the window's end."""

    due_from: float  # the window's requests were due from this second of the load
    due_to: float  # to this one
    at: float  # seconds since the load began, at the window's end (its last answer)
    seconds: float  # the window's length as run
    rss_mib: float  # NaN when the server's process had ended
    cpu_share: float  # of one core, over the window
    answered: int
    non_2xx: int
    unanswered: int  # refused, reset, timed out or still queued at the window's end
    p50_ms: float
    p99_ms: float
    #: Tweets the server accepted since the load began, as of the window's end (None:
    #: not read, the server having ended or its /metrics not answering).
    tweets: int | None = None

    @classmethod
    def of(
        cls,
        result: LoadResult,
        *,
        due: tuple[float, float],
        at: float,
        rss_mib: float,
        cpu_seconds: float,
        tweets: int | None = None,
    ) -> Sample:
        return cls(
            due_from=due[0],
            due_to=due[1],
            at=at,
            seconds=result.seconds,
            rss_mib=rss_mib,
            cpu_share=cpu_seconds / result.seconds,
            answered=result.requests,
            non_2xx=result.requests - result.ok(),
            unanswered=result.errors,
            p50_ms=result.latency_ms["p50"],
            p99_ms=result.latency_ms["p99"],
            tweets=tweets,
        )

    @property
    def errors(self) -> int:
        return self.non_2xx + self.unanswered


# --- the pure part: windows, fits, verdicts ------------------------------------------


def window_lengths(total_seconds: float, sample_seconds: float) -> list[float]:
    """``total_seconds`` cut into windows of ``sample_seconds``, the last one shorter if
    it does not divide evenly (a remainder under a millisecond is dropped)."""
    if total_seconds <= 0 or sample_seconds <= 0:
        raise ValueError("the run and its windows must last some time")
    whole, rest = divmod(total_seconds, sample_seconds)
    windows = [sample_seconds] * int(whole)
    if rest > 1e-3:
        windows.append(rest)
    return windows


def span(total_seconds: float) -> float:
    """The warm-up, and the span compared at each end for the drift: a minute, or a
    third of the run when that is shorter."""
    return min(MINUTE, total_seconds / 3)


def first(samples: Sequence[Sample], seconds: float) -> list[Sample]:
    """The samples of windows due wholly within the first ``seconds`` of the load."""
    return [s for s in samples if s.due_to <= seconds + 1e-9]


def after(samples: Sequence[Sample], seconds: float) -> list[Sample]:
    """The samples of windows due wholly after the first ``seconds`` of the load."""
    return [s for s in samples if s.due_from >= seconds - 1e-9]


def last(samples: Sequence[Sample], seconds: float) -> list[Sample]:
    """The samples of windows due wholly within the last ``seconds`` of those taken."""
    return after(samples, samples[-1].due_to - seconds) if samples else []


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """The least-squares slope of (x, y) ``points``; None with fewer than two distinct x."""
    if len({x for x, _ in points}) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in points)
    variance = sum((x - mean_x) ** 2 for x, _ in points)
    return covariance / variance


@dataclass(frozen=True)
class Summary:
    """What a run comes to (any of the figures None when too few windows completed)."""

    samples: int
    load_seconds: float  # from the first window's start to the last one's end
    span_seconds: float  # the warm-up, and the drift's span at each end
    target_rate: float
    post_share: float  # of the requests, posting a tweet
    answered: int
    non_2xx: int
    unanswered: int
    rss_slope_mib_per_hour: float | None
    rss_after_warm_up_mib: float | None
    first_p99_ms: float | None
    last_p99_ms: float | None
    #: Tweets the server accepted during the load (None: never read).
    tweets_posted: int | None = None
    #: RSS fitted against the server's tweet count, over the windows after the warm-up.
    rss_per_thousand_tweets_mib: float | None = None

    @property
    def rate(self) -> float:
        return self.answered / self.load_seconds if self.load_seconds else 0.0

    @property
    def drift(self) -> float | None:
        if self.first_p99_ms is None or self.last_p99_ms is None or not self.first_p99_ms:
            return None
        return self.last_p99_ms / self.first_p99_ms


def summarize(
    samples: Sequence[Sample], *, planned_seconds: float, rate: float, post_share: float
) -> Summary:
    """The run's figures from its samples. The warm-up and the drift's span come from the
    planned length (an interrupted run keeps the same warm-up), the slope from the
    windows ending after the warm-up; the drift needs the two ends not to overlap."""
    warm = span(planned_seconds)
    kept = [s for s in after(samples, warm) if not math.isnan(s.rss_mib)]
    fitted = slope([(s.at / 3600, s.rss_mib) for s in kept])
    per_tweet = slope([(s.tweets, s.rss_mib) for s in kept if s.tweets is not None])
    counted = [s.tweets for s in samples if s.tweets is not None]
    head = first(samples, warm)
    tail = last(samples, warm)
    apart = bool(head) and bool(tail) and tail[0].due_from >= head[-1].due_to
    return Summary(
        samples=len(samples),
        load_seconds=samples[-1].at if samples else 0.0,
        span_seconds=warm,
        target_rate=rate,
        post_share=post_share,
        answered=sum(s.answered for s in samples),
        non_2xx=sum(s.non_2xx for s in samples),
        unanswered=sum(s.unanswered for s in samples),
        rss_slope_mib_per_hour=fitted,
        rss_after_warm_up_mib=kept[0].rss_mib if kept else None,
        first_p99_ms=statistics.median(s.p99_ms for s in head) if apart else None,
        last_p99_ms=statistics.median(s.p99_ms for s in tail) if apart else None,
        tweets_posted=counted[-1] if counted else None,
        rss_per_thousand_tweets_mib=None if per_tweet is None else per_tweet * 1000,
    )


def verdicts(summary: Summary) -> list[Figure]:
    """The report's figures, each beside what it is compared with and its target."""
    rows = []
    if summary.rss_slope_mib_per_hour is not None and summary.rss_after_warm_up_mib:
        rows.append(
            Figure(
                "RSS slope ÷ RSS after warm-up",
                summary.rss_slope_mib_per_hour,
                "MiB/h",
                "RSS after warm-up (MiB)",
                summary.rss_after_warm_up_mib,
                FLAT_SHARE_PER_HOUR,
                lower_is_better=True,
            )
        )
    if summary.first_p99_ms is not None and summary.last_p99_ms is not None:
        rows.append(
            Figure(
                "p99 drift: last span's median p99",
                summary.last_p99_ms,
                "ms",
                "first span's median p99 (ms)",
                summary.first_p99_ms,
                DRIFT_TARGET,
                lower_is_better=True,
            )
        )
    rows.append(
        Figure(
            "rate achieved",
            summary.rate,
            "req/s",
            "rate due (req/s)",
            summary.target_rate,
        )
    )
    return rows


def report(
    summary: Summary,
    *,
    stopped: str | None = None,
    deployment: Deployment | None = None,
    heap: HeapGrowth | None = None,
) -> str:
    """The report; ``stopped`` says why the load ended before its time, if it did;
    ``deployment`` where the stores lived (None: embedded); ``heap`` the traced heap's
    growth, with ``--tracemalloc``."""
    deployment = deployment or embedded_deployment()
    said = "a minute" if summary.span_seconds >= MINUTE else "a third of the run"
    lines = [
        f"soak ({deployment.mode}): {summary.samples} windows, {summary.load_seconds:,.0f} s "
        "of load" + (f" (stopped early, {stopped}: the windows done)" if stopped else ""),
        f"stores: {deployment.where}",
        f"warm-up and drift span: the first {summary.span_seconds:g} s ({said}); the slope "
        f"fits the windows after it; the drift compares the median p99 of the last "
        f"{summary.span_seconds:g} s with that of the first",
        figures_table(verdicts(summary)),
    ]
    if summary.rss_slope_mib_per_hour is None:
        lines.append("RSS slope: too few windows after the warm-up to fit one")
    else:
        lines.append(f"RSS slope: {summary.rss_slope_mib_per_hour:+,.1f} MiB/h")
    lines += tweet_lines(summary, deployment)
    if summary.drift is None:
        lines.append("p99 drift: the run is too short for its two ends not to overlap")
    errors = summary.non_2xx + summary.unanswered
    lines.append(
        f"errors: {summary.non_2xx:,} non-2xx, {summary.unanswered:,} unanswered of "
        f"{summary.answered + summary.unanswered:,} requests: {'met' if errors == 0 else 'MISSED'}"
        " (= 0)"
    )
    if heap is not None:
        lines += heap.lines()
    return "\n".join(lines)


def tweet_lines(summary: Summary, deployment: Deployment) -> list[str]:
    """The tweets posted and the RSS growth per 1,000 of them: measured against the
    server's own count where it was read, else estimated from the rate and the mix."""
    kept = f"in process per tweet: {deployment.in_process}"
    if summary.tweets_posted is not None:
        posted = (
            f"tweets posted during the load: {summary.tweets_posted:,} (the server's count), "
            f"{summary.tweets_posted / summary.load_seconds if summary.load_seconds else 0:,.1f}/s"
        )
        per_thousand = summary.rss_per_thousand_tweets_mib
        if per_thousand is None:
            return [posted, "RSS per 1,000 tweets posted: too few windows after the warm-up"]
        return [
            posted,
            f"RSS per 1,000 tweets posted: {per_thousand:+,.2f} MiB "
            f"({per_thousand * MIB / 1000 / 1024:+,.2f} KiB per tweet; RSS fitted against "
            f"the count over the windows after the warm-up); {kept}",
        ]
    if summary.rss_slope_mib_per_hour is None or not (summary.post_share and summary.rate):
        return []
    per_second = summary.rate * summary.post_share
    per_thousand = summary.rss_slope_mib_per_hour / (per_second * 3600) * 1000
    return [
        f"tweets posted: not read from the server; about {per_second:,.0f}/s from the rate "
        "and the mix",
        f"RSS per 1,000 tweets posted, so estimated: {per_thousand:+,.2f} MiB "
        f"({per_thousand * MIB / 1000 / 1024:+,.2f} KiB per tweet); {kept}",
    ]


def row(sample: Sample) -> str:
    tweets = "-" if sample.tweets is None else f"{sample.tweets:,}"
    return (
        f"{sample.at:>7.0f} {sample.rss_mib:>9.1f} {sample.cpu_share:>7.0%} "
        f"{sample.answered / sample.seconds:>8.1f} {sample.p50_ms:>8.2f} {sample.p99_ms:>8.2f} "
        f"{sample.errors:>7} {tweets:>8}"
    )


ROW_HEADER = (
    f"{'t (s)':>7} {'RSS MiB':>9} {'CPU':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
    f"{'errors':>7} {'tweets':>8}"
)


#: The server's count of tweets accepted, in the Prometheus text of its /metrics.
ACCEPTED_TWEETS = re.compile(r'^chirp_writes_accepted_total\{kind="tweet"\} (\S+)$', re.M)


def accepted_tweets(metrics: str) -> int:
    """Tweets the server accepted since it started, from its ``/metrics`` text (none
    before the counter's first tweet)."""
    found = ACCEPTED_TWEETS.search(metrics)
    return 0 if found is None else int(float(found.group(1)))


def vm_rss_mib(status: str) -> float:
    """The ``VmRSS`` of a ``/proc/<pid>/status`` text, in MiB."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            amount, unit = line.split()[1:3]
            if unit != "kB":
                raise ValueError(f"VmRSS in {unit!r}, not kB")
            return int(amount) * 1024 / MIB
    raise ValueError("no VmRSS line: the process has ended (or is a kernel thread)")


# --- the requests ----------------------------------------------------------------------


class SoakRequests(Requests):
    """`Requests`, with the kinds the soak adds: trending, search, and follows that come
    undone. The "follow or unfollow" requests take turns: one follows a pair the seeded
    graph does not hold, the next unfollows it, so the graph stays the size it was
    seeded at however long the soak runs."""

    def __init__(self, seeded: Seeded, graph: Graph, seed: int) -> None:
        super().__init__(seeded, seed)
        self._edges = set(graph.edges)
        self._added: deque[tuple[int, int]] = deque()
        self.makers["trending"] = lambda: Request("GET", "/api/v1/trending", self._auth())
        self.makers["search"] = self._search
        self.makers["follow or unfollow"] = self._follow_or_unfollow

    def _search(self) -> Request:
        word = self._rng.choice(HASHTAGS)
        return Request("GET", f"/api/v1/search?q={word}&limit=10", self._auth())

    def _follow_or_unfollow(self) -> Request:
        if self._added:
            follower, followee = self._added.popleft()
            method = "DELETE"
        else:
            follower, followee = self._new_pair()
            self._added.append((follower, followee))
            method = "POST"
        path = f"/api/v1/users/{self._seeded.user_ids[followee]}/follow"
        return Request(method, path, self._seeded.auth(follower))

    def _new_pair(self) -> tuple[int, int]:
        while True:
            follower, followee = self._user(), self._user()
            if follower != followee and (follower, followee) not in self._edges:
                return follower, followee


# --- the run -----------------------------------------------------------------------------


@contextmanager
def on_cpu(cpu: int) -> Iterator[None]:
    """This process on ``cpu`` alone for the block (left as it is without that core)."""
    before = os.sched_getaffinity(0)
    if cpu not in before:
        yield
        return
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@dataclass
class Run:
    """The windows completed so far: what a run stopped early reports."""

    samples: list[Sample] = field(default_factory=list)
    stopped: str | None = None  # why the load ended before its time
    deployment: Deployment = field(default_factory=embedded_deployment)
    #: With --tracemalloc: the heap at the end of the warm-up and at the end of the load.
    heap: list[HeapPoint] = field(default_factory=list)
    heap_note: str | None = None  # why a snapshot is missing

    def heap_growth(self) -> HeapGrowth | None:
        return HeapGrowth.between(self.heap[0], self.heap[-1]) if len(self.heap) > 1 else None


@dataclass(frozen=True)
class Watched:
    """The soak's server, and what the bench needs to read it between windows."""

    server: Server
    admin_token: str  # for /metrics
    heap_dir: Path | None = None  # with --tracemalloc: where its heap figures are written

    async def tweets_accepted(self, client: httpx.AsyncClient) -> int | None:
        """The server's count of tweets accepted since it started; None if unread."""
        try:
            answer = await client.get(
                "/metrics", headers={"Authorization": f"Bearer {self.admin_token}"}
            )
        except httpx.HTTPError:
            return None
        return accepted_tweets(answer.text) if answer.status_code == 200 else None

    async def take_heap(self, run: Run) -> None:
        """A heap snapshot now, beside the last window's RSS and tweets; one that fails
        is noted in ``run.heap_note`` and ends the snapshots."""
        assert self.heap_dir is not None
        last = run.samples[-1]
        try:
            point = await heap_point(
                self.server.pid, self.heap_dir, len(run.heap) + 1, last.rss_mib, last.tweets
            )
        except (OSError, ValueError, trio.TooSlowError) as exc:
            run.heap_note = f"heap snapshot {len(run.heap) + 1} not taken ({exc!r})"
            return
        run.heap.append(point)


async def hold(
    watched: Watched,
    make: SoakRequests,
    options: SoakOptions,
    run: Run,
    say: Callable[[str], None],
) -> None:
    """The windows back to back, a sample after each. SIGINT or SIGTERM cancels the
    window under way and ends the load, as does the server's process ending
    (``run.stopped`` says which); the samples taken are kept. With ``watched.heap_dir``,
    a heap snapshot before the first window after the warm-up and after the last."""
    server = watched.server
    status = Path(f"/proc/{server.pid}/status")
    warm = span(options.minutes * 60)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as interrupts:
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=30) as client,
            trio.open_nursery() as nursery,
        ):

            async def interrupt() -> None:
                async for _ in interrupts:
                    run.stopped = "interrupted"
                    nursery.cancel_scope.cancel()

            nursery.start_soon(interrupt)
            tweets_before = await watched.tweets_accepted(client)
            started, due_from = time.perf_counter(), 0.0
            for seconds in window_lengths(options.minutes * 60, options.sample_seconds):
                if watched.heap_dir and not (run.heap or run.heap_note) and due_from >= warm - 1e-9:
                    await watched.take_heap(run)
                requests = requests_of(
                    make.mix(SOAK_MIX, max(1, math.ceil(options.rate * seconds)))
                )
                cpu = server.cpu_seconds()
                result = await open_loop(
                    server.url,
                    requests,
                    rate=options.rate,
                    seconds=seconds,
                    connections=OPEN_CONNECTIONS,
                )
                at = time.perf_counter() - started
                try:
                    rss, cpu = vm_rss_mib(status.read_text()), server.cpu_seconds() - cpu
                except (OSError, ValueError):  # gone, or a zombie without VmRSS
                    # The window is kept: its unanswered requests are errors of the run.
                    rss, cpu, run.stopped = math.nan, 0.0, "the server's process ended"
                tweets = None
                if not run.stopped and tweets_before is not None:
                    accepted = await watched.tweets_accepted(client)
                    tweets = None if accepted is None else accepted - tweets_before
                sample = Sample.of(
                    result,
                    due=(due_from, due_from + seconds),
                    at=at,
                    rss_mib=rss,
                    cpu_seconds=cpu,
                    tweets=tweets,
                )
                run.samples.append(sample)
                due_from += seconds
                say(row(sample))
                if run.stopped:
                    break
            if watched.heap_dir and run.heap and not (run.stopped or run.heap_note):
                await watched.take_heap(run)
            nursery.cancel_scope.cancel()


def soak(options: SoakOptions, say: Callable[[str], None] = print) -> tuple[Summary, Run]:
    """Seed a server, hold the load, and summarize. However it ends (an interrupt while
    seeding propagates as KeyboardInterrupt, SIGTERM as one too), the server is stopped
    and then, in production, the run's namespace dropped. Raises `Unreachable` when a
    server production needs does not answer, before anything starts."""
    graph = densest(reed98(), options.users)
    tweets = tweets_to_fill(graph, options.tweets_per_user)
    check_servers(options)
    run = Run()
    with ExitStack() as stack:  # left in reverse: the server, the namespace, dynalite
        stack.enter_context(terminated_as_interrupt())
        endpoint = None
        if options.tweet_store == "dynamodb":
            endpoint, note = stack.enter_context(dynamodb(options.dynamodb))
            say(f"  {note}")
        run.deployment = deployment(
            options,
            namespace=f"soak{secrets.token_hex(4)}",
            jwt_secret=secrets.token_urlsafe(32),
            dynamodb_endpoint=endpoint,
        )
        stack.enter_context(dropped_afterwards(run.deployment.settings, say))
        heap_dir = None
        if options.tracemalloc:
            heap_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soak-")))
        args, traced = server_launch(options, heap_dir)
        env = {**bench_env(), **run.deployment.env, **traced}
        say(f"  stores: {run.deployment.where}")
        say(
            f"  seeding {graph.users:,} accounts, {len(graph.edges):,} follows, {tweets} tweets "
            "each"
        )
        chirp = stack.enter_context(served(args, env=env))
        seeded = trio.run(
            partial(seed, chirp.url, graph, tweets_per_user=tweets, seed=options.seed)
        )
        make = SoakRequests(seeded, graph, options.seed)
        say(f"  seeded; the server settled in {chirp.settle():.1f} s")
        say(
            f"  holding {options.rate:g} req/s for {options.minutes:g} min, "
            f"a sample every {options.sample_seconds:g} s (Ctrl-C: stop and report)"
            + ("; tracemalloc on" if options.tracemalloc else "")
        )
        say(ROW_HEADER)
        watched = Watched(chirp, env["CHIRP_ADMIN_TOKEN"], heap_dir)
        with on_cpu(LOAD_CPU):
            trio.run(hold, watched, make, options, run, say)
    summary = summarize(
        run.samples,
        planned_seconds=options.minutes * 60,
        rate=options.rate,
        post_share=SOAK_MIX["tweet"] / sum(SOAK_MIX.values()),
    )
    return summary, run


def main(options: SoakOptions) -> None:
    try:
        summary, run = soak(options, lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        raise SystemExit("interrupted before the load began: nothing to report") from None
    except Unreachable as exc:
        raise SystemExit(f"bench soak: {exc}") from None
    heap = run.heap_growth()
    print(report(summary, stopped=run.stopped, deployment=run.deployment, heap=heap))
    if options.tracemalloc and heap is None:
        print(f"tracemalloc: no growth to report ({run.heap_note or 'the load ended first'})")


# --- the command line --------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m bench soak``'s flags, on ``parser``; `options_from` reads them."""
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="of load, after seeding (0.5 for a check)"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s, open loop")
    parser.add_argument("--sample-seconds", type=float, default=10.0, help="one row each")
    parser.add_argument("--users", type=int, default=300, help="Reed98's N most connected")
    parser.add_argument(
        "--backends",
        choices=MODES,
        default=EMBEDDED,
        help="embedded (default): every store in the server's process. production: users, "
        "follows, likes and retweets on PostgreSQL (--postgres); feed, tweet and trending "
        "caches, inboxes, rate limits, activity and the event log on Redis (--redis); tweets "
        "and the search index stay in the server's process (--tweet-store dynamodb moves "
        "tweets; no DynamoDB is needed otherwise). Everything under a namespace of the run's "
        "own, dropped afterwards",
    )
    parser.add_argument(
        "--postgres", default=POSTGRES_DSN, metavar="DSN", help="production's PostgreSQL"
    )
    parser.add_argument("--redis", default=REDIS_URL, metavar="URL", help="production's Redis")
    parser.add_argument(
        "--tweet-store",
        choices=TWEET_STORES,
        default="memory",
        help="production: where tweets live (default memory, in the server's process)",
    )
    parser.add_argument(
        "--dynamodb", metavar="URL", help="with --tweet-store dynamodb; default: start dynalite"
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="run the server with PYTHONTRACEMALLOC=1 and report Python's heap growth after "
        "the warm-up by source line (slows the server: not for latency or RSS figures)",
    )


def options_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SoakOptions:
    """The `SoakOptions` of parsed ``args``; a combination that makes no sense exits
    through ``parser.error``."""
    given = {f.name: getattr(args, f.name) for f in fields(SoakOptions) if f.name in args}
    try:
        return SoakOptions(**given)
    except ValueError as exc:
        parser.error(str(exc))
