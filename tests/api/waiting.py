"""Waiting for chirp's consumers to catch up, in either configuration.

Embedded, every handler runs in this process: once all tasks are blocked, the groups have
applied all they will. On real servers a task blocked on a socket is still at work, so the
wait is on the condition itself: each group's lag back to zero."""

from __future__ import annotations

from collections.abc import Iterable

import trio
import trio.testing

from chirp.server import Chirp
from chirp.services.fanout import FANOUT_TOPICS
from chirp.services.notifications import NOTIFY_TOPICS
from chirp.services.search import SEARCH_TOPICS
from chirp.services.trending import TRENDING_TOPICS

GROUPS: dict[str, Iterable[str]] = {
    "fanout": FANOUT_TOPICS,
    "notify": NOTIFY_TOPICS,
    "search": SEARCH_TOPICS,
    "trending": TRENDING_TOPICS,
}
#: Real servers answer within this, or the test fails (it never passes by waiting out).
LIMIT = 30.0
#: How often lag is asked again while a real server's reply is on its way.
POLL = 0.005


async def settled(chirp: Chirp, *groups: str) -> None:
    """Until ``groups`` (all four by default; "search" is the index's followers) have
    applied and committed everything published so far, and every actor runs."""
    with trio.fail_after(LIMIT):
        while True:
            await trio.testing.wait_all_tasks_blocked()
            if not chirp.system.unavailable() and not await _lagging(chirp, groups or GROUPS):
                await trio.testing.wait_all_tasks_blocked()
                return
            await trio.sleep(POLL)


async def _lagging(chirp: Chirp, groups: Iterable[str]) -> bool:
    for group in groups:
        if group == "search":  # followed by each process, not a group: its own positions
            if await chirp.services.search.applied.lag(chirp.log):
                return True
            continue
        for topic in GROUPS[group]:
            if any(await chirp.log.lag(group, topic)):
                return True
    return False
