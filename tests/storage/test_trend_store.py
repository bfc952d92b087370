"""The trend store's contract, on every backend."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from chirp.model import Trend
from storage.protocols import DELETED_VERSION, TrendStore, TweetTags
from tests.backends import backends, opened
from tests.servers import Servers


@pytest.fixture(params=backends("trends"))
async def trends(request: pytest.FixtureRequest, servers: Servers) -> AsyncIterator[TrendStore]:
    async with opened("trends", request.param, servers) as store:
        yield store


def uses(found: dict[str, list[tuple[int, float]]]) -> dict[str, list[tuple[int, float]]]:
    return {tag: sorted(held) for tag, held in found.items()}


async def test_uses_follow_the_newest_version_in_any_order(trends: TrendStore) -> None:
    posted = TweetTags(1, 10, author_id=7, at=1000.0, hashtags=("trio", "python"))
    edited = TweetTags(1, 20, author_id=7, at=1000.0, hashtags=("rust",))
    await trends.set_uses("global", [edited, posted])  # the edit overtook the post
    await trends.set_uses("global", [TweetTags(2, 5, 8, 1001.5, ("rust",))])
    assert uses(await trends.uses("global", since=0.0)) == {"rust": [(7, 1000.0), (8, 1001.5)]}
    await trends.set_uses("global", [TweetTags(2, DELETED_VERSION, 8, 1001.5, ())])
    await trends.set_uses("global", [TweetTags(2, 5, 8, 1001.5, ("rust",))])  # redelivered
    assert uses(await trends.uses("global", since=0.0)) == {"rust": [(7, 1000.0)]}
    assert await trends.uses("us", since=0.0) == {}, "tables are apart"


async def test_an_untagged_edit_that_overtakes_the_post_still_wins(trends: TrendStore) -> None:
    """An edit and its tweet's creation come from two topics, read by two consumers: the
    edit that took every tag away may be applied first, and must not be undone."""
    posted = TweetTags(1, 10, author_id=7, at=1000.0, hashtags=("trio",))
    untagged = TweetTags(1, 20, author_id=7, at=1000.0, hashtags=(), edited=True)
    await trends.set_uses("global", [untagged])
    await trends.set_uses("global", [posted])
    assert await trends.uses("global", since=0.0) == {}


async def test_uses_older_than_the_window_are_dropped_for_good(trends: TrendStore) -> None:
    await trends.set_uses("uk", [TweetTags(i, 1, i, 100.0 * i, ("tag",)) for i in range(1, 6)])
    await trends.set_uses("uk", [TweetTags(9, 1, 9, 50.0, ())])  # untagged: nothing to count
    assert uses(await trends.uses("uk", since=300.0)) == {
        "tag": [(3, 300.0), (4, 400.0), (5, 500.0)]
    }
    assert uses(await trends.uses("uk", since=0.0)) == {"tag": [(3, 300.0), (4, 400.0), (5, 500.0)]}


async def test_tables_are_replaced_whole_and_ranked_by_score_then_tag(
    trends: TrendStore,
) -> None:
    await trends.replace("global", [Trend("old", 99.0, 1, 1.0)])
    await trends.replace(
        "global",
        [
            Trend("b", 50.0, 3, 10.0),
            Trend("a", 50.0, 4, 11.5),
            Trend("c", 70.0, 5, 12.0),
            Trend("d", 10.0, 6, 13.0),
        ],
    )
    assert await trends.top("global", 10) == [
        Trend("c", 70.0, 5, 12.0),
        Trend("a", 50.0, 4, 11.5),
        Trend("b", 50.0, 3, 10.0),
        Trend("d", 10.0, 6, 13.0),
    ]
    assert [t.hashtag for t in await trends.top("global", 2)] == ["c", "a"]
    assert await trends.top("nowhere", 5) == []
    await trends.replace("global", [])
    assert await trends.top("global", 5) == []
