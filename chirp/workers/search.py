"""The search index's followers feeding the one indexer actor, which commits every second.

Every process holds the whole index in its memory, so every process reads every partition
of the search topics (`storage.follower`), not a share as a consumer group would: a query
answered by any process finds what was posted through any other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors import Actor, ActorSpec, ActorSystem, SupervisorSpec, Ticker
from chirp.services.search import SearchService
from storage.follower import follower_tree
from storage.protocols import EventLog, Record
from storage.search_index import SearchIndex

from .refs import LateRefs

REFRESH_EVERY = 1.0  # seconds from an acknowledged tweet to it being searchable, at most
INDEXER = "search.indexer"


class SearchIndexer(Actor):
    """The index's one writer: adds what the consumers hand it and commits on the
    ticker's beat. The index outlives it: what was added and not yet committed is in the
    index's writer and goes out with the next commit after a restart."""

    def __init__(self, index: SearchIndex) -> None:
        self._index = index

    async def receive(self, message: Any) -> Any:
        match message:
            case ("apply", tweets, users):
                self._index.put_tweets(tweets)
                self._index.put_users(users)
            case ("commit",):
                await self._index.commit()


class SearchWorkers:
    def __init__(self, log: EventLog, service: SearchService) -> None:
        self._log = log
        self._service = service
        self._indexer = LateRefs([INDEXER])

    def supervisor_spec(self, *, max_restarts: int, within: float) -> SupervisorSpec:
        index = self._service.index
        return follower_tree(
            self._log,
            name="search",
            positions=self._service.applied,
            handler=self._handle,
            helpers=[
                ActorSpec(INDEXER, lambda: SearchIndexer(index)),
                ActorSpec(
                    "search.ticker", lambda: Ticker(self._indexer, ("commit",), REFRESH_EVERY)
                ),
            ],
            max_restarts=max_restarts,
            within=within,
        )

    def attach(self, system: ActorSystem) -> None:
        self._indexer.attach(system)

    async def _handle(self, records: Sequence[Record]) -> None:
        tweets, users = await self._service.documents(records)
        await self._indexer()[0].ask(("apply", tweets, users))
