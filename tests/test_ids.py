"""Snowflake ids: layout, uniqueness and order."""

from __future__ import annotations

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from chirp import ids

BASE_MS = ids.CHIRP_EPOCH_MS + 10**9


class SteppingClock:
    """Returns the given readings in turn (it may go backwards), then the last one."""

    def __init__(self, readings: list[int]) -> None:
        self.readings = list(readings)

    def __call__(self) -> int:
        return self.readings.pop(0) if len(self.readings) > 1 else self.readings[0]


def test_the_layout_is_time_worker_sequence() -> None:
    generator = ids.SnowflakeGenerator(5, clock_ms=lambda: BASE_MS)
    first, second = generator.next_id(), generator.next_id()
    assert ids.timestamp_ms(first) == BASE_MS
    assert ids.worker_of(first) == 5
    assert second - first == 1, "same millisecond: the sequence counts up"
    assert first < 1 << 63
    assert ids.created_at(first).timestamp() * 1000 == pytest.approx(BASE_MS)


@given(st.lists(st.integers(min_value=-50, max_value=50), min_size=1, max_size=300))
def test_ids_always_increase_even_when_the_clock_steps_back(steps: list[int]) -> None:
    readings, now = [], BASE_MS
    for step in steps:
        now += step
        readings.append(now)
    generator = ids.SnowflakeGenerator(1, clock_ms=SteppingClock(readings))
    made = [generator.next_id() for _ in readings]
    assert made == sorted(set(made)), "strictly increasing, so unique"
    assert all(ids.timestamp_ms(i) >= min(readings) for i in made)


def test_more_than_4096_ids_in_a_millisecond_borrow_the_next_one() -> None:
    generator = ids.SnowflakeGenerator(0, clock_ms=lambda: BASE_MS)
    made = [generator.next_id() for _ in range(5000)]
    assert made == sorted(set(made))
    assert ids.timestamp_ms(made[-1]) == BASE_MS + 1


async def test_ids_from_many_tasks_are_unique_and_follow_time() -> None:
    generator = ids.SnowflakeGenerator(3)
    made: list[tuple[int, int]] = []  # (order taken, id)

    async def take(count: int) -> None:
        for _ in range(count):
            made.append((len(made), generator.next_id()))
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        for _ in range(50):
            nursery.start_soon(take, 40)
    in_order = [snowflake for _, snowflake in sorted(made)]
    assert len(set(in_order)) == 2000
    assert in_order == sorted(in_order), "an id taken later is always larger"


def test_workers_never_collide() -> None:
    a = ids.SnowflakeGenerator(1, clock_ms=lambda: BASE_MS)
    b = ids.SnowflakeGenerator(2, clock_ms=lambda: BASE_MS)
    assert not {a.next_id() for _ in range(100)} & {b.next_id() for _ in range(100)}


@pytest.mark.parametrize(
    "text", ["", "-1", "0", "1e5", "12ab", " 12", "١٢٣", "9" * 20, str(1 << 63)]
)
def test_parse_refuses_anything_but_a_snowflake(text: str) -> None:
    with pytest.raises(ValueError):
        ids.parse(text)


def test_parse_reads_what_json_carries() -> None:
    snowflake = ids.SnowflakeGenerator(7).next_id()
    assert ids.parse(str(snowflake)) == snowflake


def test_worker_ids_are_bounded() -> None:
    with pytest.raises(ValueError):
        ids.SnowflakeGenerator(1024)


def test_a_generator_that_becomes_another_worker_keeps_rising() -> None:
    generator = ids.SnowflakeGenerator(3, clock_ms=lambda: ids.CHIRP_EPOCH_MS + 1_000)
    before = [generator.next_id() for _ in range(5)]
    generator.become(7)
    after = [generator.next_id() for _ in range(5)]
    made = before + after
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {ids.worker_of(i) for i in after} == {7}
