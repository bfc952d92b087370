"""The notify group: consumers that turn events into inbox entries."""

from __future__ import annotations

from actors import SupervisorSpec
from chirp.services.notifications import NOTIFY_TOPICS, NotificationService
from storage.consumer import consumer_groups
from storage.protocols import EventLog


def notify_workers(
    log: EventLog,
    service: NotificationService,
    *,
    shards: int,
    max_restarts: int,
    within: float,
) -> SupervisorSpec:
    """Group ``notify``: per topic, up to ``shards`` consumers. The inboxes live in the
    store and every notification is keyed by its event, so a consumer killed mid-batch
    is restarted, gets the batch again, and notifies nobody twice."""
    groups = consumer_groups(
        log,
        group="notify",
        topics=NOTIFY_TOPICS,
        shards=shards,
        handler=service.deliver,
        max_restarts=max_restarts,
        within=within,
    )
    return SupervisorSpec("notify", groups, max_restarts=max_restarts, within=within)
