"""GCRA decisions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chirp.ratelimit import gcra


def run(times: list[float], limit: int, period: float) -> list[bool]:
    tat, allowed = None, []
    for now in times:
        decision, tat = gcra(tat, now, limit, period)
        allowed.append(decision.allowed)
    return allowed


def test_a_full_burst_then_one_per_interval() -> None:
    assert run([0.0] * 6, limit=5, period=60) == [True] * 5 + [False]
    assert run([0.0] * 5 + [11.9, 12.0], limit=5, period=60)[-2:] == [False, True]


def test_the_headers_figures() -> None:
    tat = None
    decision, tat = gcra(tat, 0.0, 100, 3600)
    assert (decision.remaining, decision.reset_after) == (99, pytest.approx(36))
    for _ in range(99):
        decision, tat = gcra(tat, 0.0, 100, 3600)
    assert decision.allowed and decision.remaining == 0
    refused, _ = gcra(tat, 0.0, 100, 3600)
    assert not refused.allowed and refused.retry_after == pytest.approx(36)


@given(
    st.lists(st.floats(min_value=0, max_value=10), min_size=1, max_size=200),
    st.integers(min_value=1, max_value=20),
)
def test_a_token_bucket_never_gives_more_than_its_burst_plus_refill(
    gaps: list[float], limit: int
) -> None:
    period = 10.0
    times, now = [], 0.0
    for gap in gaps:
        now += gap
        times.append(now)
    allowed = [t for t, ok in zip(times, run(times, limit, period), strict=True) if ok]
    # Any span of time: at most a full bucket, plus what refilled during the span.
    for i, start in enumerate(allowed):
        for j in range(i, len(allowed)):
            span = allowed[j] - start
            assert j - i + 1 <= limit + span * limit / period + 1e-6
    # And a steady stream at the rate is never refused once the bucket is drained.
    assert all(run([k * period / limit for k in range(3 * limit)], limit, period))
