"""Snowflake worker ids leased in Redis, so processes sharing a deployment never make the
same id: each holds ``worker:{n}`` (``SET NX PX`` to its token) for the id ``n`` it uses,
renewed as partition leases are (`storage.redis.leases`), and given back when it stops.

A process that stalled past the lease's ttl may find its id taken by a newcomer: it then
leases another and tells its generator (``moved``), which moves on a millisecond so ids
keep rising."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio

from actors import Actor

from .leases import RELEASE, RENEW, LeaseTerms, uncancelled

logger = logging.getLogger("storage.redis.worker_ids")

WORKER_IDS = 1024  # the Snowflake layout's 10 bits


class WorkerIdTaken(RuntimeError):
    """Every worker id is leased, or this process's lapsed and another took it."""


class WorkerIdLease:
    """This process's worker id: `claim` takes the lowest free one, `Renewer` keeps it."""

    def __init__(self, client: Any, prefix: str, token: str, terms: LeaseTerms) -> None:
        self._client = client
        self._prefix = prefix
        self._token = token
        self._terms = terms
        self.worker_id: int | None = None
        #: Called with the new id when the lease moved to another (see the module).
        self.moved: Callable[[int], None] = lambda worker_id: None

    def _key(self, worker_id: int) -> str:
        return f"{self._prefix}worker:{worker_id}"

    async def claim(self) -> int:
        for worker_id in range(WORKER_IDS):
            with uncancelled():
                taken = await self._client.set(
                    self._key(worker_id), self._token, px=self._terms.ttl_ms, condition="NX"
                )
            if taken:
                self.worker_id = worker_id
                return worker_id
        raise WorkerIdTaken(f"all {WORKER_IDS} Snowflake worker ids are leased")

    async def renew(self) -> None:
        assert self.worker_id is not None, "claim first"
        key = self._key(self.worker_id)
        with uncancelled():
            held = await self._client.eval(
                RENEW, keys=[key], args=[self._token, self._terms.ttl_ms]
            )
        if held:
            return
        # Lapsed (this process stalled past the ttl): it may take it again if nobody did.
        with uncancelled():
            retaken = await self._client.set(
                key, self._token, px=self._terms.ttl_ms, condition="NX"
            )
        if retaken:
            logger.warning("worker id %s lapsed and was taken again", self.worker_id)
            return
        lost = self.worker_id
        self.moved(await self.claim())
        logger.warning("worker id %s went to another process; now %s", lost, self.worker_id)

    async def release(self) -> None:
        if self.worker_id is not None:
            with uncancelled():
                await self._client.eval(
                    RELEASE, keys=[self._key(self.worker_id)], args=[self._token]
                )


class Renewer(Actor):
    """Renews the lease on its beat."""

    def __init__(self, lease: WorkerIdLease, every: float) -> None:
        self._lease = lease
        self._every = every

    async def run(
        self, mailbox: Any, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await trio.sleep(self._every)
            await self._lease.renew()

    def describe(self) -> dict[str, Any]:
        return {"worker_id": self._lease.worker_id}
