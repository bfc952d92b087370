"""How much of each partition's stream the log keeps, and the actor that trims the rest."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import trio

from actors import Actor
from storage.protocols import LogUnavailable

if TYPE_CHECKING:
    from .eventlog import RedisEventLog

# The name the log's trimming has always logged under, so logging settings still find it.
logger = logging.getLogger("storage.redis.eventlog")


@dataclass(frozen=True)
class StreamRetention:
    """How long and how much each partition's stream keeps: entries older than ``max_age``
    seconds go, and beyond the newest ``max_entries`` (None: no limit), checked every
    ``check_interval`` seconds. Nothing a consumer group has not committed goes, however
    old: its pending entries are claimed by whoever takes the partition over, and the rest
    it has yet to read. (Redis cannot weigh a stream's bytes cheaply; entries stand in.)"""

    max_age: float = 7 * 24 * 3600.0
    max_entries: int | None = 1_000_000
    check_interval: float = 300.0

    def __post_init__(self) -> None:
        if self.max_age <= 0 or self.check_interval <= 0:
            raise ValueError("retention needs a positive max_age and check_interval")
        if self.max_entries is not None and self.max_entries < 0:
            raise ValueError("retention max_entries must be >= 0, or None for no limit")


class _Trimmer(Actor):
    """Trims the log every ``interval`` seconds; a failed round waits for the next one."""

    def __init__(self, log: RedisEventLog, interval: float) -> None:
        self._log = log
        self._interval = interval

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await trio.sleep(self._interval)
            try:
                await self._log.enforce_retention()
            except LogUnavailable as exc:
                logger.warning("trimming the log failed: %s", exc)
