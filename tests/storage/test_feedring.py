"""The compact feed against a plain model: a capped sorted set."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from storage.memory.feedring import FeedRing


def test_newest_first_capped_without_duplicates() -> None:
    feed = FeedRing(capacity=3)
    assert [feed.add(i) for i in (10, 30, 20, 30)] == [True, True, True, False]
    assert feed.newest(10) == [30, 20, 10]
    assert feed.add(40) and feed.newest(10) == [40, 30, 20]
    assert not feed.add(5), "older than everything a full feed keeps"
    assert feed.newest(2, max_id=35) == [30, 20]
    assert feed.discard(30) and not feed.discard(30)
    assert feed.newest(10) == [40, 20] and 20 in feed and 30 not in feed
    assert feed.nbytes == 2 * 8


@given(
    st.lists(st.tuples(st.booleans(), st.integers(0, 60)), max_size=200),
    st.integers(1, 20),
    st.integers(1, 25),
    st.one_of(st.none(), st.integers(0, 60)),
)
def test_it_behaves_as_a_capped_sorted_set(
    ops: list[tuple[bool, int]], capacity: int, limit: int, max_id: int | None
) -> None:
    feed, model = FeedRing(capacity), set()
    for add, tweet_id in ops:
        if add:
            grown = model | {tweet_id}
            kept = set(sorted(grown)[-capacity:])
            assert feed.add(tweet_id) == (tweet_id in kept and tweet_id not in model)
            model = kept
        else:
            assert feed.discard(tweet_id) == (tweet_id in model)
            model.discard(tweet_id)
    expected = sorted((i for i in model if max_id is None or i <= max_id), reverse=True)
    assert feed.newest(limit, max_id) == expected[:limit]
    assert len(feed) == len(model) <= capacity
