"""Snowflake worker ids leased in Redis: distinct per process, reclaimed once lapsed, and
a process whose id was taken meanwhile moves to another."""

from __future__ import annotations

from storage.redis.leases import LeaseTerms
from storage.redis.worker_ids import WorkerIdLease
from tests.backends import scratch_redis
from tests.servers import Servers

TERMS = LeaseTerms(ttl=0.2)


async def test_processes_lease_distinct_ids_and_take_back_lapsed_ones(servers: Servers) -> None:
    async with scratch_redis(servers.redis_url) as stores:
        client, prefix = stores.client, stores.prefix
        first = WorkerIdLease(client, prefix, "first", TERMS)
        second = WorkerIdLease(client, prefix, "second", TERMS)
        assert (await first.claim(), await second.claim()) == (0, 1)
        await first.release()
        assert await WorkerIdLease(client, prefix, "third", TERMS).claim() == 0, "given back"
        await second.renew()
        assert await client.get(f"{prefix}worker:1") == b"second"


async def test_an_id_taken_while_its_holder_stalled_moves_the_holder(servers: Servers) -> None:
    async with scratch_redis(servers.redis_url) as stores:
        client, prefix = stores.client, stores.prefix
        stalled = WorkerIdLease(client, prefix, "stalled", TERMS)
        assert await stalled.claim() == 0
        moves: list[int] = []
        stalled.moved = moves.append
        await client.delete([f"{prefix}worker:0"])  # its lease ran out...
        assert await WorkerIdLease(client, prefix, "newcomer", TERMS).claim() == 0  # ...taken
        await stalled.renew()
        assert moves == [1] and stalled.worker_id == 1
        assert await client.get(f"{prefix}worker:0") == b"newcomer", "left to the newcomer"
        await client.delete([f"{prefix}worker:1"])  # ran out again, and nobody took it
        await stalled.renew()
        assert moves == [1] and await client.get(f"{prefix}worker:1") == b"stalled"
