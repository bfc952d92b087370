"""The soak's pure parts: its windows, the RSS fit, the p99 drift, the verdicts and the
requests it adds. No server, no sleeps."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import pytest

from bench.graphs import Graph
from bench.load import LoadResult
from bench.seeding import Seeded
from bench.soak import (
    DRIFT_TARGET,
    SOAK_MIX,
    Sample,
    SoakRequests,
    Summary,
    after,
    first,
    last,
    report,
    slope,
    span,
    summarize,
    verdicts,
    vm_rss_mib,
    window_lengths,
)

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
