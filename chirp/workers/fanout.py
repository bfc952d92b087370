"""The fan-out consumer group: shard actors over the topics that change feeds."""

from __future__ import annotations

from actors import SupervisorSpec
from chirp.services.fanout import FANOUT_TOPICS, FanoutService
from storage.consumer import consumer_groups
from storage.protocols import EventLog


def fanout_workers(
    log: EventLog, fanout: FanoutService, *, shards: int, max_restarts: int, within: float
) -> SupervisorSpec:
    """Group ``fanout``: per topic, up to ``shards`` consumers sharing its partitions."""
    groups = consumer_groups(
        log,
        group="fanout",
        topics=FANOUT_TOPICS,
        shards=shards,
        handler=fanout.apply,
        max_restarts=max_restarts,
        within=within,
    )
    return SupervisorSpec("fanout", groups, max_restarts=max_restarts, within=within)
