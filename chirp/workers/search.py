"""The search group: consumers feeding the one indexer actor, which commits every second."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from actors import Actor, ActorSpec, ActorSystem, SupervisorSpec, Ticker
from chirp.services.search import SEARCH_TOPICS, SearchService
from storage.consumer import consumer_tree
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

    def supervisor_spec(self, *, shards: int, max_restarts: int, within: float) -> SupervisorSpec:
        index = self._service.index
        return consumer_tree(
            self._log,
            group="search",
            topics=SEARCH_TOPICS,
            shards=shards,
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
