"""``python -m bench soak``: a steady mixed load over HTTP for minutes or hours, sampling
the server's memory and latency, to show a leak or a slow drift that a 10-second run
cannot (issue 9).

The server is ``python main.py`` (embedded default) pinned to one core, seeded over the
API like ``python -m bench http`` (the Reed98 graph's ``--users`` most connected
accounts, their follows and tweets, every feed warm). Then an open loop on the other
core holds ``--rate`` requests/s of `SOAK_MIX` for ``--minutes``, in back-to-back
windows of ``--sample-seconds``: each window is one `bench.openloop.open_loop` run
(requests timed from when they were due), and after it the server's RSS (VmRSS of
``/proc/<pid>/status``) and CPU are read. One row is printed per window.

The report: the RSS slope in MiB/hour (least squares over the windows after the
warm-up), the p99 drift (median p99 of the last minute ÷ that of the first minute) and
the errors, each beside its target. Runs shorter than three minutes use a third of the
run in place of the minute. Ctrl-C ends the load at once and prints the report of the
windows completed; the server is always stopped.
"""

from __future__ import annotations

import math
import os
import signal
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import trio

from .graphs import Graph, reed98
from .http_requests import Requests, requests_of
from .load import LoadResult, Request
from .openloop import open_loop
from .over_http import OPEN_CONNECTIONS, bench_env, densest, tweets_to_fill
from .processes import LOAD_CPU, Server, served
from .results import Figure, figures_table
from .seeding import HASHTAGS, Seeded, seed

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

    @classmethod
    def of(
        cls,
        result: LoadResult,
        *,
        due: tuple[float, float],
        at: float,
        rss_mib: float,
        cpu_seconds: float,
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


def report(summary: Summary, *, stopped: str | None = None) -> str:
    """The report; ``stopped`` says why the load ended before its time, if it did."""
    said = "a minute" if summary.span_seconds >= MINUTE else "a third of the run"
    lines = [
        f"soak: {summary.samples} windows, {summary.load_seconds:,.0f} s of load"
        + (f" (stopped early, {stopped}: the windows done)" if stopped else ""),
        f"warm-up and drift span: the first {summary.span_seconds:g} s ({said}); the slope "
        f"fits the windows after it; the drift compares the median p99 of the last "
        f"{summary.span_seconds:g} s with that of the first",
        figures_table(verdicts(summary)),
    ]
    if summary.rss_slope_mib_per_hour is None:
        lines.append("RSS slope: too few windows after the warm-up to fit one")
    elif summary.post_share and summary.rate:
        # The embedded stores keep every tweet in process: growth per tweet posted is
        # the figure to set against what a tweet's data takes.
        per_tweet = (
            summary.rss_slope_mib_per_hour * MIB / (summary.rate * summary.post_share * 3600)
        )
        lines.append(
            f"RSS slope {summary.rss_slope_mib_per_hour:+,.1f} MiB/h: "
            f"{per_tweet / 1024:+,.2f} KiB per tweet posted "
            f"({summary.rate * summary.post_share:,.0f} tweets/s, all kept in process)"
        )
    if summary.drift is None:
        lines.append("p99 drift: the run is too short for its two ends not to overlap")
    errors = summary.non_2xx + summary.unanswered
    lines.append(
        f"errors: {summary.non_2xx:,} non-2xx, {summary.unanswered:,} unanswered of "
        f"{summary.answered + summary.unanswered:,} requests: {'met' if errors == 0 else 'MISSED'}"
        " (= 0)"
    )
    return "\n".join(lines)


def row(sample: Sample) -> str:
    return (
        f"{sample.at:>7.0f} {sample.rss_mib:>9.1f} {sample.cpu_share:>7.0%} "
        f"{sample.answered / sample.seconds:>8.1f} {sample.p50_ms:>8.2f} {sample.p99_ms:>8.2f} "
        f"{sample.errors:>7}"
    )


ROW_HEADER = (
    f"{'t (s)':>7} {'RSS MiB':>9} {'CPU':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}"
)


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


async def hold(
    server: Server,
    make: SoakRequests,
    options: SoakOptions,
    run: Run,
    say: Callable[[str], None],
) -> None:
    """The windows back to back, a sample after each. SIGINT cancels the window under
    way and ends the load, as does the server's process ending (``run.stopped`` says
    which); the samples taken are kept."""
    status = Path(f"/proc/{server.pid}/status")
    with trio.open_signal_receiver(signal.SIGINT) as interrupts:
        async with trio.open_nursery() as nursery:

            async def interrupt() -> None:
                async for _ in interrupts:
                    run.stopped = "interrupted"
                    nursery.cancel_scope.cancel()

            nursery.start_soon(interrupt)
            started, due_from = time.perf_counter(), 0.0
            for seconds in window_lengths(options.minutes * 60, options.sample_seconds):
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
                sample = Sample.of(
                    result, due=(due_from, due_from + seconds), at=at, rss_mib=rss, cpu_seconds=cpu
                )
                run.samples.append(sample)
                due_from += seconds
                say(row(sample))
                if run.stopped:
                    break
            nursery.cancel_scope.cancel()


def soak(options: SoakOptions, say: Callable[[str], None] = print) -> tuple[Summary, Run]:
    """Seed a server, hold the load, and summarize; the server is stopped however it ends
    (an interrupt while seeding propagates as KeyboardInterrupt)."""
    graph = densest(reed98(), options.users)
    tweets = tweets_to_fill(graph, options.tweets_per_user)
    run = Run()
    say(f"  seeding {graph.users:,} accounts, {len(graph.edges):,} follows, {tweets} tweets each")
    with served(["main.py", "--port", "0"], env=bench_env()) as chirp:
        seeded = trio.run(
            partial(seed, chirp.url, graph, tweets_per_user=tweets, seed=options.seed)
        )
        make = SoakRequests(seeded, graph, options.seed)
        say(f"  seeded; the server settled in {chirp.settle():.1f} s")
        say(
            f"  holding {options.rate:g} req/s for {options.minutes:g} min, "
            f"a sample every {options.sample_seconds:g} s (Ctrl-C: stop and report)"
        )
        say(ROW_HEADER)
        with on_cpu(LOAD_CPU):
            trio.run(hold, chirp, make, options, run, say)
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
    print(report(summary, stopped=run.stopped))
