"""The soak's pure parts: its windows, the RSS fit, the p99 drift, the verdicts and the
requests it adds. No server, no sleeps."""

from __future__ import annotations

import argparse
import json
import math
import signal
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import pytest

from bench import soak_stores, traced_server
from bench.graphs import Graph
from bench.load import LoadResult
from bench.seeding import Seeded
from bench.soak import (
    DRIFT_TARGET,
    POSTGRES_DSN,
    REDIS_URL,
    SOAK_MIX,
    HeapGrowth,
    HeapPoint,
    Sample,
    SoakOptions,
    SoakRequests,
    Summary,
    accepted_tweets,
    add_arguments,
    after,
    deployment,
    dropped_afterwards,
    first,
    last,
    options_from,
    report,
    server_launch,
    slope,
    span,
    summarize,
    terminated_as_interrupt,
    verdicts,
    vm_rss_mib,
    window_lengths,
)
from chirp.config import Settings

WINDOW = 10.0


def sample(index: int, *, rss: float = 100.0, p99: float = 10.0, errors: int = 0) -> Sample:
    """Window ``index`` (from 0) of 10 s, ended a little late as real ones do."""
    return Sample(
        due_from=index * WINDOW,
        due_to=(index + 1) * WINDOW,
        at=(index + 1) * WINDOW + 0.05 * (index + 1),
        seconds=WINDOW,
        rss_mib=rss,
        cpu_share=0.25,
        answered=2_000,
        non_2xx=errors,
        unanswered=0,
        p50_ms=p99 / 4,
        p99_ms=p99,
    )


def run_of(count: int) -> list[Sample]:
    return [sample(i) for i in range(count)]


def summary_of(samples: list[Sample], minutes: float) -> Summary:
    return summarize(samples, planned_seconds=minutes * 60, rate=200.0, post_share=0.15)


def test_windows_cut_the_run_and_keep_a_shorter_last_one() -> None:
    assert window_lengths(60, 10) == [10] * 6
    assert window_lengths(30, 10) == [10] * 3
    assert window_lengths(25, 10) == [10, 10, 5]
    assert window_lengths(5, 10) == [5]
    assert window_lengths(20.0000001, 10) == [10, 10]  # float dust is no window


@pytest.mark.parametrize(("total", "each"), [(0, 10), (60, 0), (-1, 10)])
def test_windows_of_no_time_are_refused(total: float, each: float) -> None:
    with pytest.raises(ValueError, match="some time"):
        window_lengths(total, each)


def test_the_span_is_a_minute_or_a_third_of_a_short_run() -> None:
    assert span(600) == 60
    assert span(180) == 60
    assert span(60) == 20
    assert span(30) == 10


def test_slope_is_least_squares() -> None:
    assert slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert slope([(0, 7), (1, 7), (5, 7)]) == pytest.approx(0.0)
    # Noise either side of a line of slope 1 fits to it.
    assert slope([(0, 0.5), (1, 0.5), (2, 2.5), (3, 2.5)]) == pytest.approx(0.8)


def test_slope_needs_two_distinct_points() -> None:
    assert slope([]) is None
    assert slope([(3, 1)]) is None
    assert slope([(3, 1), (3, 2)]) is None


def test_spans_select_windows_by_when_they_were_due_not_when_they_ended() -> None:
    samples = run_of(6)  # a minute: each window ends a little after its due end
    assert [s.due_from for s in first(samples, 20)] == [0, 10]
    assert [s.due_from for s in after(samples, 20)] == [20, 30, 40, 50]
    assert [s.due_from for s in last(samples, 20)] == [40, 50]
    assert last([], 20) == []


def test_memory_growing_after_the_warm_up_is_its_slope_per_hour() -> None:
    # 1 MiB per window of 10 s after the first minute, whatever the warm-up did.
    samples = [
        sample(i, rss=500.0 - 50 * i) if i < 6 else sample(i, rss=100.0 + (i - 6))
        for i in range(60)
    ]
    summary = summary_of(samples, minutes=10)
    assert summary.span_seconds == 60
    assert summary.rss_after_warm_up_mib == 100.0
    # Fitted against when each window really ended (10.05 s apart): about 358 MiB/h.
    assert summary.rss_slope_mib_per_hour == pytest.approx(3600 / 10.05, rel=1e-6)
    flat, *_ = verdicts(summary)
    assert flat.ratio == pytest.approx(3600 / 10.05 / 100)
    assert flat.verdict.startswith("MISSED")


def test_flat_memory_meets_its_target() -> None:
    samples = [sample(i, rss=100.0 + (0.2 if i % 2 else 0.0)) for i in range(60)]
    summary = summary_of(samples, minutes=10)
    flat, drift, rate = verdicts(summary)
    assert abs(summary.rss_slope_mib_per_hour or 0) < 1
    assert flat.verdict.startswith("met")
    assert drift.ratio == pytest.approx(1.0)
    assert rate.value == pytest.approx(summary.answered / samples[-1].at)


def test_drift_is_the_median_p99_of_the_last_minute_over_the_first() -> None:
    # First minute: p99 10 ms but one window's spike of 90 (the median ignores it);
    # last minute: 16 ms, a drift of 1.6, past the target of 1.5.
    p99s = [10, 90, 10, 10, 10, 10] + [12] * 48 + [16, 16, 16, 100, 16, 16]
    samples = [sample(i, p99=p99) for i, p99 in enumerate(p99s)]
    summary = summary_of(samples, minutes=10)
    assert (summary.first_p99_ms, summary.last_p99_ms) == (10, 16)
    assert summary.drift == pytest.approx(1.6)
    drift = verdicts(summary)[1]
    assert drift.target == DRIFT_TARGET
    assert drift.verdict.startswith("MISSED")


def test_a_one_minute_run_compares_its_first_and_last_twenty_seconds() -> None:
    samples = [sample(i, p99=p99) for i, p99 in enumerate([8, 10, 12, 12, 11, 13])]
    summary = summary_of(samples, minutes=1)
    assert summary.span_seconds == 20
    assert summary.drift == pytest.approx(12 / 9)
    assert summary.rss_slope_mib_per_hour == pytest.approx(0.0)


def test_an_interrupted_run_keeps_its_planned_warm_up_and_reports_what_it_has() -> None:
    summary = summary_of(run_of(4), minutes=10)  # 40 s of a planned 10 minutes
    assert summary.span_seconds == 60
    assert summary.rss_slope_mib_per_hour is None
    assert summary.drift is None
    assert [f.name for f in verdicts(summary)] == ["rate achieved"]
    text = report(summary, stopped="interrupted")
    assert "interrupted" in text
    assert "too few windows" in text
    assert "too short" in text


def test_windows_after_the_server_ended_count_errors_but_fit_no_memory() -> None:
    samples = [sample(i, rss=100.0 + i) for i in range(9)]
    samples.append(replace(sample(9, rss=math.nan), unanswered=1_500))
    summary = summary_of(samples, minutes=10)
    assert summary.rss_slope_mib_per_hour == pytest.approx(3600 / 10.05, rel=1e-6)
    text = report(summary, stopped="the server's process ended")
    assert "0 non-2xx, 1,500 unanswered of 21,500 requests: MISSED" in text


def test_no_window_at_all_still_reports() -> None:
    summary = summary_of([], minutes=10)
    assert summary.rate == 0
    assert "0 non-2xx, 0 unanswered of 0 requests: met" in report(summary, stopped="interrupted")


def test_errors_are_non_2xx_and_unanswered_requests() -> None:
    result = LoadResult(
        driver="open-loop",
        seconds=10.2,
        requests=1_998,
        rate=195.9,
        statuses={200: 1_900, 201: 95, 404: 1, 500: 2},
        errors=2,
        latency_ms={"p50": 2.0, "p99": 9.0},
    )
    taken = Sample.of(result, due=(10.0, 20.0), at=20.3, rss_mib=120.0, cpu_seconds=5.1)
    assert (taken.non_2xx, taken.unanswered, taken.errors) == (3, 2, 5)
    assert taken.cpu_share == pytest.approx(0.5)
    assert (taken.p50_ms, taken.p99_ms) == (2.0, 9.0)
    summary = summary_of([taken], minutes=1)
    assert "3 non-2xx, 2 unanswered of 2,000 requests: MISSED" in report(summary)


def test_rss_is_read_from_proc_status() -> None:
    status = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t  153600 kB\nThreads:\t4\n"
    assert vm_rss_mib(status) == 150.0
    with pytest.raises(ValueError, match="no VmRSS"):
        vm_rss_mib("Name:\tkthreadd\n")


def test_the_mix_is_the_issues() -> None:
    assert sum(SOAK_MIX.values()) == 100
    assert SOAK_MIX["feed"] + SOAK_MIX["home timeline"] == 65
    reads = ("feed", "home timeline", "profile view", "trending", "search")
    assert sum(SOAK_MIX[kind] for kind in reads) == 70
    assert (SOAK_MIX["tweet"], SOAK_MIX["like"], SOAK_MIX["follow or unfollow"]) == (15, 10, 5)


def test_follows_come_undone_and_never_touch_the_seeded_graph() -> None:
    users = 6
    edges = [(0, 1), (1, 0), (2, 3)]
    seeded = Seeded(
        user_ids=[100 + u for u in range(users)],
        tokens=[f"token{u}" for u in range(users)],
        tweet_ids=["1", "2"],
    )
    make = SoakRequests(seeded, Graph("tiny", users, edges), seed=3)
    followed: Counter[tuple[str, str]] = Counter()
    for _, request in make.many("follow or unfollow", 2_000):
        follower = dict(request.headers)["Authorization"]
        pair = (follower, request.path)
        user = int(follower.removeprefix("Bearer token"))
        followee = int(request.path.split("/")[4]) - 100
        assert user != followee
        assert (user, followee) not in edges
        if request.method == "POST":
            followed[pair] += 1
        else:
            assert request.method == "DELETE"
            assert followed[pair] > 0, "an unfollow of a pair the soak did not follow"
            followed[pair] -= 1
    # Each follow undone by the next: the graph stays the size it was seeded at.
    assert sum(followed.values()) == 0


def test_the_soak_kinds_are_get_requests_with_a_token() -> None:
    seeded = Seeded(user_ids=[10, 11], tokens=["a", "b"], tweet_ids=["1"])
    make = SoakRequests(seeded, Graph("pair", 2, []), seed=1)
    (_, trending), (_, search) = make.many("trending", 1) + make.many("search", 1)
    assert (trending.method, trending.path) == ("GET", "/api/v1/trending")
    assert search.method == "GET"
    assert search.path.startswith("/api/v1/search?q=")
    assert dict(search.headers)["Authorization"].startswith("Bearer ")


# --- the command line, the server's environment and the namespace ------------------------

SECRET = "s" * 43


def parsed(*argv: str) -> SoakOptions:
    parser = argparse.ArgumentParser(prog="python -m bench soak")
    add_arguments(parser)
    return options_from(parser.parse_args(argv), parser)


def test_the_default_soak_is_embedded_and_untraced() -> None:
    options = parsed()
    assert options == SoakOptions()
    assert (options.backends, options.tweet_store, options.tracemalloc) == (
        "embedded",
        "memory",
        False,
    )
    assert (options.postgres, options.redis) == (POSTGRES_DSN, REDIS_URL)


def test_production_and_its_servers_are_flags() -> None:
    options = parsed(
        "--minutes", "3", "--backends", "production", "--redis", "redis://h:1/2", "--tracemalloc"
    )
    assert (options.minutes, options.backends, options.redis) == (
        3.0,
        "production",
        "redis://h:1/2",
    )
    assert options.tracemalloc
    dynamo = parsed(
        "--backends", "production", "--tweet-store", "dynamodb", "--dynamodb", "http://d:8"
    )
    assert (dynamo.tweet_store, dynamo.dynamodb) == ("dynamodb", "http://d:8")


@pytest.mark.parametrize(
    "argv",
    [
        ["--backends", "cloud"],
        ["--tweet-store", "dynamodb"],  # tweets elsewhere is a production layout
        ["--backends", "production", "--dynamodb", "http://d:8"],  # but tweets in memory
    ],
)
def test_combinations_that_make_no_sense_are_refused(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parsed(*argv)
    assert exited.value.code == 2
    assert "--" in capsys.readouterr().err


def test_embedded_names_every_store_memory() -> None:
    placed = deployment(SoakOptions())
    assert placed.mode == "embedded"
    assert placed.settings is None  # nothing outlives the process: nothing to drop
    assert placed.env == {
        "CHIRP_USERS": "memory",
        "CHIRP_TWEETS": "memory",
        "CHIRP_CACHE": "memory",
        "CHIRP_LOG": "memory",
    }


def test_production_puts_users_on_postgres_and_caches_and_log_on_redis() -> None:
    options = SoakOptions(backends="production")
    placed = deployment(options, namespace="soak0a1b2c3d", jwt_secret=SECRET)
    assert placed.env == {
        "CHIRP_USERS": POSTGRES_DSN,
        "CHIRP_TWEETS": "memory",  # chirp keeps tweets in memory or on DynamoDB only
        "CHIRP_CACHE": REDIS_URL,
        "CHIRP_LOG": REDIS_URL,
        "CHIRP_NAMESPACE": "soak0a1b2c3d",
        "CHIRP_JWT_SECRET": SECRET,
    }
    assert placed.settings is not None
    assert placed.settings.namespace == "soak0a1b2c3d"  # what is dropped afterwards
    # What the server reads from that environment is what the bench will drop.
    assert Settings(**{k.removeprefix("CHIRP_").lower(): v for k, v in placed.env.items()}) == (
        placed.settings
    )
    assert "schema soak0a1b2c3d" in placed.where
    assert "keys soak0a1b2c3d:*" in placed.where
    assert "tweets in the server's process" in placed.where
    assert "tweet store" in placed.in_process and "search index" in placed.in_process


def test_production_with_tweets_on_dynamodb_keeps_only_the_search_index() -> None:
    options = SoakOptions(backends="production", tweet_store="dynamodb")
    placed = deployment(
        options,
        namespace="soak0a1b2c3d",
        jwt_secret=SECRET,
        dynamodb_endpoint="http://127.0.0.1:4567",
    )
    assert placed.env["CHIRP_TWEETS"] == "dynamodb://127.0.0.1:4567"
    assert "tables soak0a1b2c3d_*" in placed.where
    assert "tweet store" not in placed.in_process
    with pytest.raises(ValueError, match="endpoint"):
        deployment(options, namespace="soak0a1b2c3d", jwt_secret=SECRET)


@pytest.mark.parametrize(
    ("namespace", "secret", "problem"),
    [
        ("", SECRET, "namespace of its own"),  # never the shared default namespace
        ("Soak!", SECRET, "namespace"),
        ("soak0a1b2c3d", "short", "32 bytes"),  # chirp refuses a weak key
    ],
)
def test_production_settings_chirp_would_refuse_fail_before_starting(
    namespace: str, secret: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        deployment(SoakOptions(backends="production"), namespace=namespace, jwt_secret=secret)


def test_tracemalloc_runs_the_server_through_the_tracing_wrapper(tmp_path: Path) -> None:
    assert server_launch(SoakOptions(), None) == (["main.py", "--port", "0"], {})
    args, env = server_launch(SoakOptions(tracemalloc=True), tmp_path)
    assert args == ["-m", "bench.traced_server", "--port", "0"]
    assert env == {"PYTHONTRACEMALLOC": "1", "BENCH_TRACEMALLOC_DIR": str(tmp_path)}


@pytest.fixture
def drops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    dropped: list[str] = []

    async def drop(settings: Settings) -> None:
        dropped.append(settings.namespace)

    monkeypatch.setattr(soak_stores, "drop_namespace", drop)
    return dropped


def production_settings() -> Settings:
    placed = deployment(
        SoakOptions(backends="production"), namespace="soak0a1b2c3d", jwt_secret=SECRET
    )
    assert placed.settings is not None
    return placed.settings


@pytest.mark.parametrize("ending", [None, KeyboardInterrupt, RuntimeError])
def test_the_namespace_is_dropped_however_the_run_ends(
    ending: type[BaseException] | None, drops: list[str]
) -> None:
    said: list[str] = []
    with pytest.raises(ending) if ending else nullcontext():
        with dropped_afterwards(production_settings(), said.append):
            if ending:
                raise ending
    assert drops == ["soak0a1b2c3d"]
    assert said == ["  dropped namespace soak0a1b2c3d (its Redis keys and PostgreSQL schema)"]


def test_a_failed_drop_says_what_to_drop_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(settings: Settings) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(soak_stores, "drop_namespace", refuse)
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt):  # the block's own exception, not the drop's
        with dropped_afterwards(production_settings(), said.append):
            raise KeyboardInterrupt
    (line,) = said
    assert "could NOT drop namespace soak0a1b2c3d" in line
    assert "DROP SCHEMA soak0a1b2c3d CASCADE" in line


def test_embedded_has_no_namespace_to_drop(drops: list[str]) -> None:
    said: list[str] = []
    with dropped_afterwards(None, said.append):
        pass
    assert (drops, said) == ([], [])


def test_sigterm_interrupts_like_ctrl_c() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), terminated_as_interrupt():
        signal.raise_signal(signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


# --- tweets counted, and the heap ------------------------------------------------------------

METRICS = """# HELP chirp_writes_accepted_total Writes accepted, by kind
# TYPE chirp_writes_accepted_total counter
chirp_writes_accepted_total{kind="like"} 40.0
chirp_writes_accepted_total{kind="tweet"} 1234.0
chirp_writes_accepted_created{kind="tweet"} 1.7e+09
"""


def test_tweets_accepted_are_read_from_the_servers_metrics() -> None:
    assert accepted_tweets(METRICS) == 1234
    assert accepted_tweets("# no tweet yet\n") == 0


def test_rss_per_thousand_tweets_is_fitted_against_the_servers_count() -> None:
    # After the warm-up: 2 MiB more every window, in which 500 tweets were posted, then
    # a window of 1,000 tweets and 4 MiB: 4 MiB per 1,000 tweets however the rate varied.
    tweets = [500 * (i + 1) for i in range(59)] + [500 * 59 + 1_000]
    rss = [100.0 + 2 * i for i in range(59)] + [100.0 + 2 * 58 + 4]
    samples = [replace(sample(i, rss=rss[i]), tweets=tweets[i]) for i in range(60)]
    summary = summary_of(samples, minutes=10)
    assert summary.tweets_posted == 30_500
    assert summary.rss_per_thousand_tweets_mib == pytest.approx(4.0)
    text = report(summary)
    assert "soak (embedded)" in text
    assert "tweets posted during the load: 30,500 (the server's count)" in text
    assert "RSS per 1,000 tweets posted: +4.00 MiB (+4.10 KiB per tweet" in text


def test_without_a_count_the_tweets_are_estimated_from_the_mix() -> None:
    samples = [sample(i, rss=100.0 + i) for i in range(60)]  # no tweets read
    summary = summary_of(samples, minutes=10)
    assert summary.tweets_posted is None
    text = report(summary)
    assert "not read from the server; about 30/s" in text
    assert "so estimated" in text


def test_the_report_names_production_and_where_the_stores_were() -> None:
    placed = deployment(
        SoakOptions(backends="production"), namespace="soak0a1b2c3d", jwt_secret=SECRET
    )
    text = report(summary_of(run_of(60), minutes=10), deployment=placed)
    assert text.startswith("soak (production): 60 windows")
    assert "stores: production, namespace soak0a1b2c3d" in text


def test_heap_growth_is_by_source_line_beside_the_rss() -> None:
    mib = 1024 * 1024
    before = HeapPoint(
        {
            "traced_bytes": 100 * mib,
            "peak_bytes": 120 * mib,
            "lines": [["/x/storage/memory/tweets.py:40", 10 * mib, 1000], ["/x/gone.py:1", mib, 5]],
        },
        rss_mib=300.0,
        tweets=1_000,
    )
    after = HeapPoint(
        {
            "traced_bytes": 112 * mib,
            "peak_bytes": 130 * mib,
            "lines": [
                ["/x/storage/memory/tweets.py:40", 20 * mib, 2000],
                ["/x/new.py:2", 2 * mib, 9],
            ],
        },
        rss_mib=330.0,
        tweets=5_000,
    )
    growth = HeapGrowth.between(before, after)
    assert (growth.traced_mib, growth.rss_mib, growth.tweets) == (12.0, 30.0, 4_000)
    assert growth.lines_grown == [
        ("/x/storage/memory/tweets.py:40", 10.0, 1000),
        ("/x/new.py:2", 2.0, 9),
        ("/x/gone.py:1", -1.0, -5),
    ]
    text = "\n".join(growth.lines())
    assert "traced heap +12.0 MiB, the RSS +30.0 MiB" in text
    assert "per 1,000 of the 4,000 tweets posted meanwhile: traced +3.00 MiB, RSS +7.50 MiB" in text


@pytest.fixture
def usr2() -> Iterator[None]:
    before = signal.getsignal(signal.SIGUSR2)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR2, before)


def test_the_traced_server_writes_the_heap_on_sigusr2(tmp_path: Path, usr2: None) -> None:
    traced_server.install(tmp_path)
    handler = signal.getsignal(signal.SIGUSR2)
    assert callable(handler)
    handler(signal.SIGUSR2, None)  # not tracing: nothing to say
    assert list(tmp_path.iterdir()) == []
    tracemalloc.start()
    try:
        kept = [bytearray(1000) for _ in range(100)]
        handler(signal.SIGUSR2, None)
        handler(signal.SIGUSR2, None)
    finally:
        tracemalloc.stop()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heap-1.json", "heap-2.json"]
    figures = json.loads((tmp_path / "heap-1.json").read_text())
    assert figures["traced_bytes"] >= 100 * 1000
    ours = [line for line in figures["lines"] if line[0].startswith(__file__ + ":")]
    assert sum(size for _, size, _ in ours) >= 100 * 1000
    assert len(kept) == 100
