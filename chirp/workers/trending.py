"""The trending group: one actor per trending table, fed by consumers and a ticker."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from actors import (
    Actor,
    ActorSpec,
    ActorSystem,
    AskFailed,
    SupervisorSpec,
    Ticker,
    ask_all,
)
from chirp.services.trending import TRENDING_TOPICS, TrendingService
from storage.consumer import consumer_tree
from storage.protocols import EventLog, Record

from .refs import LateRefs

#: Seconds: scores decay, and cold tags leave, once a minute, on the minute (a restarted
#: ticker keeps the beat, so when tags enter and leave does not depend on restarts).
RESCORE_EVERY = 60.0


class TrendTable(Actor):
    """The one writer of a trending table: applies its share of each batch of events and
    rescores on the ticker's beat. The table lives in the store, so a kill loses nothing;
    the batch it was applying is delivered again, and applying it twice changes nothing."""

    def __init__(self, service: TrendingService, table: str) -> None:
        self._service = service
        self._table = table

    async def receive(self, message: Any) -> Any:
        match message:
            case ("apply", tweets):
                await self._service.apply(self._table, tweets)
            case ("rescore",):
                await self._service.rescore(self._table)


class TrendingWorkers:
    """Consumers turn each batch into per-table changes and ask every table actor to apply
    its share at once; a table that does not answer fails the batch, so the consumer
    restarts and the batch comes again from the committed offset."""

    def __init__(
        self, log: EventLog, service: TrendingService, *, rescore_every: float = RESCORE_EVERY
    ) -> None:
        self._log = log
        self._rescore_every = rescore_every
        self._service = service
        self._tables = LateRefs([self.table_name(t) for t in service.tables])

    @staticmethod
    def table_name(table: str) -> str:
        return f"trending.{table}"

    def supervisor_spec(self, *, shards: int, **intensity: float) -> SupervisorSpec:
        """``intensity``: `consumer_tree`'s ``max_restarts``, ``within`` and backoff."""
        tables = [
            ActorSpec(self.table_name(t), partial(TrendTable, self._service, t))
            for t in self._service.tables
        ]
        ticker = ActorSpec(
            "trending.ticker",
            lambda: Ticker(self._tables, ("rescore",), self._rescore_every, aligned=True),
        )
        return consumer_tree(
            self._log,
            group="trending",
            topics=TRENDING_TOPICS,
            shards=shards,
            handler=self._handle,
            helpers=[*tables, ticker],
            **intensity,  # type: ignore[arg-type]
        )

    def attach(self, system: ActorSystem) -> None:
        self._tables.attach(system)

    async def _handle(self, records: Sequence[Record]) -> None:
        changes = await self._service.changes(records)
        tables = zip(self._tables(), self._service.tables, strict=True)
        answers = await ask_all([(ref, ("apply", changes[t])) for ref, t in tables])
        for answer in answers:
            if isinstance(answer, AskFailed):
                raise answer
