"""The embedded stand-in for the Redis cache cluster: cache-node actors, keys by slot."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import partial
from typing import Any

from actors import (
    ActorRef,
    ActorSpec,
    ActorSystem,
    AskFailed,
    SupervisorSpec,
    Ticker,
    ask_all,
)
from storage.cache_ttl import CacheTTL
from storage.slots import key_slot, node_of, tag_slot
from storage.timing import timed

from .cachenode import CacheNode

BATCH = 100  # entries per request to one node (the seed's pipelined batches of 100)
NODE_MEMO = 1 << 20  # users whose node is remembered


@timed
class MemoryFeedCache:
    """A `FeedCache` over ``nodes`` cache-node actors. Each key goes to the node owning its
    slot (``feed:{42}`` and ``celeb:{42}`` share one), and multi-key work goes to each node
    in batches of `BATCH`, as pipelines to a Redis Cluster would.

    A node that is down reads as a miss and drops writes: the cache is never the truth,
    so the caller regenerates from the stores instead of failing.
    """

    def __init__(
        self,
        *,
        nodes: int = 3,
        ttl: CacheTTL = CacheTTL(),
        name: str = "cache",
        sweep_interval: float = 60.0,
        timeout: float = 2.0,
    ) -> None:
        if nodes < 1:
            raise ValueError("a cache needs at least one node")
        self._nodes = nodes
        self._ttl = ttl
        self._name = name
        self._sweep_interval = sweep_interval
        self._timeout = timeout
        self._refs: list[ActorRef] = []
        self.requests = 0  # asks sent to nodes: what the batching saves shows here
        self._feed_nodes: dict[int, int] = {}  # user -> node: a CRC16 per entry is costly

    def node_name(self, index: int) -> str:
        return f"{self._name}.node{index}"

    def supervisor_spec(self, *, max_restarts: int = 100, within: float = 10.0) -> SupervisorSpec:
        children = [
            ActorSpec(self.node_name(i), partial(CacheNode, self._ttl)) for i in range(self._nodes)
        ]
        children.append(
            ActorSpec(
                f"{self._name}.sweeper",
                lambda: Ticker(lambda: self._refs, ("sweep",), self._sweep_interval),
            )
        )
        return SupervisorSpec(self._name, children, max_restarts=max_restarts, within=within)

    def attach(self, system: ActorSystem) -> None:
        self._refs = [system.ref(self.node_name(i)) for i in range(self._nodes)]

    def node_for(self, key: str) -> int:
        return node_of(key_slot(key), self._nodes)

    async def push(self, entries: Iterable[tuple[int, int]]) -> int:
        return sum(await self._batched("push", entries, default=0))

    async def remove(self, entries: Iterable[tuple[int, int]]) -> int:
        return sum(await self._batched("remove", entries, default=0))

    async def feed(
        self, user_id: int, *, limit: int, max_id: int | None = None
    ) -> list[int] | None:
        return await self._ask(self._feed_node(user_id), ("feed", user_id, limit, max_id))

    async def store_feed(self, user_id: int, tweet_ids: Iterable[int]) -> None:
        await self._ask(self._feed_node(user_id), ("store_feed", user_id, list(tweet_ids)))

    async def drop_feed(self, user_id: int) -> None:
        await self._ask(self._feed_node(user_id), ("drop_feed", user_id))

    async def drop_feeds(self, user_ids: Iterable[int]) -> None:
        batches = self._batches(self._by_node(user_ids, self._feed_node))
        await self._ask_many([(node, ("drop_feeds", ids)) for node, ids in batches])

    async def store_celeb(self, author_id: int, tweet_ids: Iterable[int]) -> None:
        await self._ask(self._feed_node(author_id), ("store_celeb", author_id, list(tweet_ids)))

    async def drop_celeb(self, author_id: int) -> None:
        await self._ask(self._feed_node(author_id), ("drop_celeb", author_id))

    async def celeb_push(self, entries: Iterable[tuple[int, int]]) -> None:
        await self._batched("celeb_push", entries, default=None)

    async def celeb_remove(self, author_id: int, tweet_id: int) -> None:
        await self._ask(self._feed_node(author_id), ("celeb_remove", author_id, tweet_id))

    async def celeb_recent(
        self, author_ids: Iterable[int], *, limit: int, max_id: int | None = None
    ) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        requests = [
            (node, ("celeb_recent", ids, limit, max_id))
            for node, ids in self._by_node(author_ids, self._feed_node).items()
        ]
        for answer in await self._ask_many(requests):
            found.update(answer or {})
        return found

    async def get_tweets(self, tweet_ids: Iterable[int]) -> dict[int, Any]:
        return await self._get_versioned("get_tweets", tweet_ids)

    async def put_tweets(self, tweets: Mapping[int, tuple[int, Any]]) -> None:
        await self._put_versioned("put_tweets", tweets)

    async def get_reply_counts(self, tweet_ids: Iterable[int]) -> dict[int, int]:
        held = await self._get_versioned("get_reply_counts", tweet_ids)
        return {i: n for i, n in held.items() if n is not None}

    async def put_reply_counts(self, counts: Mapping[int, tuple[int, int | None]]) -> None:
        await self._put_versioned("put_reply_counts", counts)

    async def _get_versioned(self, operation: str, tweet_ids: Iterable[int]) -> dict[int, Any]:
        """What the nodes hold under ``operation`` for ``tweet_ids`` (their ``tweet:`` slots)."""
        found: dict[int, Any] = {}
        batches = self._batches(self._by_node(tweet_ids, self._tweet_node))
        for answer in await self._ask_many([(n, (operation, ids)) for n, ids in batches]):
            found.update(answer or {})
        return found

    async def _put_versioned(self, operation: str, values: Mapping[int, Any]) -> None:
        batches = self._batches(self._by_node(values, self._tweet_node))
        await self._ask_many(
            [(node, (operation, {i: values[i] for i in ids})) for node, ids in batches]
        )

    def _feed_node(self, user_id: int) -> int:
        node = self._feed_nodes.get(user_id)
        if node is None:
            if len(self._feed_nodes) >= NODE_MEMO:
                self._feed_nodes.clear()
            node = self._feed_nodes[user_id] = self.node_for(f"feed:{{{user_id}}}")
        return node

    def _tweet_node(self, tweet_id: int) -> int:
        # ``tweet:{id}`` placed by its tag alone: a feed page routes a hundred of these.
        return node_of(tag_slot(b"%d" % tweet_id), self._nodes)

    @staticmethod
    def _batches(grouped: dict[int, list[Any]]) -> list[tuple[int, list[Any]]]:
        """Each node's items, `BATCH` at a time."""
        return [
            (node, held[start : start + BATCH])
            for node, held in grouped.items()
            for start in range(0, len(held), BATCH)
        ]

    @staticmethod
    def _by_node(ids: Iterable[int], node_of_id: Any) -> dict[int, list[int]]:
        grouped: defaultdict[int, list[int]] = defaultdict(list)
        for i in ids:
            grouped[node_of_id(i)].append(i)
        return grouped

    async def _batched(
        self, operation: str, entries: Iterable[tuple[int, int]], *, default: Any
    ) -> list[Any]:
        grouped: defaultdict[int, list[tuple[int, int]]] = defaultdict(list)
        feed_node, known = self._feed_node, self._feed_nodes
        for entry in entries:
            node = known.get(entry[0])
            grouped[feed_node(entry[0]) if node is None else node].append(entry)
        requests = [(node, (operation, batch)) for node, batch in self._batches(grouped)]
        return [default if a is None else a for a in await self._ask_many(requests)]

    async def _ask_many(self, requests: list[tuple[int, tuple[Any, ...]]]) -> list[Any]:
        """Every request at once, to the nodes side by side; a node that is down answers
        None, as a miss."""
        if len(requests) == 1:
            return [await self._ask(*requests[0])]
        self.requests += len(requests)
        answers = await ask_all(
            [(self._refs[node], request) for node, request in requests], timeout=self._timeout
        )
        return [None if isinstance(a, AskFailed) else a for a in answers]

    async def _ask(self, node: int, request: tuple[Any, ...]) -> Any:
        self.requests += 1
        try:
            return await self._refs[node].ask(request, timeout=self._timeout)
        except AskFailed:
            return None  # a cache that is down is a cache that missed
