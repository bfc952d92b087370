"""Full-text search on tantivy: tweets, users and hashtag counts, in memory or on disk."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tantivy
import trio
from sortedcontainers import SortedDict

from storage.durable import latest_snapshot, prune_snapshots, records_codec, write_snapshot

WRITER_HEAP = 15_000_000  # bytes per writer: tantivy's floor; the commits are small
DEEPEST = 1000  # results a query can page through: relevance is re-sorted in that window
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class TweetDoc:
    tweet_id: int
    version: int  # a newer version replaces an older; DELETED removes for good
    content: str
    author: str  # username
    hashtags: tuple[str, ...]
    mentions: tuple[str, ...]


@dataclass(frozen=True)
class UserDoc:
    user_id: int
    username: str
    display_name: str
    bio: str


@dataclass(frozen=True)
class TweetQuery:
    """What a tweet must match, every part of it: words (stemmed, any case), quoted
    phrases, ``#tags``, ``@mentions`` and ``from:`` authors."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    hashtags: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()


@dataclass
class _Versions:
    held: dict[int, int] = field(default_factory=dict)  # tweet_id -> version indexed
    tags: dict[int, tuple[str, ...]] = field(default_factory=dict)  # tweet_id -> its tags


class SearchIndex:
    """Two tantivy indexes (tweets, users) and the hashtag counts, written by one writer
    each. Writes wait in the writer until `commit`, which the indexer calls about once a
    second: that is the refresh interval. Slow calls (commit, search) run on a thread,
    where tantivy releases the GIL.

    Tweet events arrive on several topics, in any order, perhaps twice: each document
    carries its tweet's version and only a newer one replaces it; a deleted tweet's
    version is above every other, so nothing brings it back.

    On disk (`SearchIndex.open`), each commit is followed by a state file beside the index:
    the versions and hashtag counts, and ``bookmark()`` as it was just before the commit
    (the indexer's log positions), read back as `saved` on the next open. It is written
    whole each time, in a worker thread: its size grows with the tweets indexed. A crash
    between the two leaves the index ahead of its state file, never behind: what the
    positions say is still to do is done again, and each tweet document is deleted by id
    before it is added, so doing it again adds nothing twice."""

    def __init__(self, path: Path | None = None) -> None:
        self._tweets = _open(_tweet_schema(), path and path / "tweets")
        self._users = _open(_user_schema(), path and path / "users")
        self._tweet_writer = self._tweets.writer(heap_size=WRITER_HEAP, num_threads=1)
        self._user_writer = self._users.writer(heap_size=WRITER_HEAP, num_threads=1)
        self._versions = _Versions()
        self._hashtags: SortedDict = SortedDict()  # tag -> live tweets using it
        self._dirty = False
        self._path = path
        self._commits = 0
        #: On disk: what ``bookmark`` gave at the commit the index was opened at (None
        #: for a new index, or one in memory).
        self.saved: Any = None
        #: On disk: called just before each commit; what it returns is saved with it.
        self.bookmark: Callable[[], Any] = lambda: None
        #: On disk: awaited before each commit, so that the index never holds more than
        #: what it was fed from survives (the durable log waits for its journal there).
        self.settle: Callable[[], Awaitable[None]] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[SearchIndex]:
        """The index kept in the folder ``path`` (created if missing), as of its last
        commit and state file; its writers are closed on the way out (what was not
        committed is dropped) and the folder is free for another. Raises `ValueError` if
        another writer, in this process or another, holds the folder."""
        index = await trio.to_thread.run_sync(cls, path)
        try:
            found = await latest_snapshot(path / "state", codec=_CODEC)
            if found is not None:
                index._commits, state = found
                index.saved = state["bookmark"]
                index._versions = _Versions(state["held"], state["tags"])
                index._hashtags = SortedDict(state["hashtags"])
            yield index
        finally:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(index._close)

    def _close(self) -> None:
        self._tweet_writer.wait_merging_threads()
        self._user_writer.wait_merging_threads()

    def put_tweets(self, docs: Iterable[TweetDoc]) -> None:
        versions, schema = self._versions, self._tweets.schema
        for doc in docs:
            if versions.held.get(doc.tweet_id, -1) >= doc.version:
                continue
            # On disk, the index may hold a document its state file does not know of.
            if doc.tweet_id in versions.held or self._path is not None:
                self._tweet_writer.delete_documents_by_query(
                    tantivy.Query.term_query(schema, "tweet_id", doc.tweet_id)
                )
                self._count(versions.tags.pop(doc.tweet_id, ()), -1)
                self._dirty = True
            versions.held[doc.tweet_id] = doc.version
            if not doc.content and not doc.hashtags:
                continue  # deleted (or nothing to find it by)
            self._tweet_writer.add_document(
                tantivy.Document(
                    tweet_id=doc.tweet_id,
                    content=doc.content,
                    author=doc.author.casefold(),
                    hashtags=[t.casefold() for t in doc.hashtags],
                    mentions=[m.casefold() for m in doc.mentions],
                )
            )
            tags = tuple({t.casefold() for t in doc.hashtags})
            versions.tags[doc.tweet_id] = tags
            self._count(tags, +1)
            self._dirty = True

    def put_users(self, docs: Iterable[UserDoc]) -> None:
        schema = self._users.schema
        for doc in docs:
            self._user_writer.delete_documents_by_query(
                tantivy.Query.term_query(schema, "user_id", doc.user_id)
            )
            self._user_writer.add_document(
                tantivy.Document(
                    user_id=doc.user_id,
                    username=doc.username.casefold(),
                    display_name=doc.display_name,
                    bio=doc.bio,
                )
            )
            self._dirty = True

    async def commit(self) -> None:
        """Make what was written since the last commit searchable."""
        if not self._dirty:
            return
        self._dirty = False
        if self._path is None:
            await trio.to_thread.run_sync(self._commit)
            return
        if self.settle is not None:
            await self.settle()
        # Copied with no checkpoint before the commit starts: only this writer adds.
        state = {
            "bookmark": self.bookmark(),
            "held": dict(self._versions.held),
            "tags": dict(self._versions.tags),
            "hashtags": dict(self._hashtags),
        }
        await trio.to_thread.run_sync(self._commit)
        self._commits += 1
        folder = self._path / "state"
        await write_snapshot(folder, self._commits, state, codec=_CODEC)
        await prune_snapshots(folder, keep=2)

    def _commit(self) -> None:
        self._tweet_writer.commit()
        self._user_writer.commit()
        self._tweets.reload()
        self._users.reload()

    async def search_tweets(self, query: TweetQuery, *, limit: int, offset: int) -> list[int]:
        """Tweet ids, most relevant first, newer first among equals."""
        return await trio.to_thread.run_sync(self._search_tweets, query, limit, offset)

    def _search_tweets(self, query: TweetQuery, limit: int, offset: int) -> list[int]:
        index, schema = self._tweets, self._tweets.schema
        parts: list[tantivy.Query] = []
        for word in query.words:
            parts.append(index.parse_query(word, ["content"]))
        for phrase in query.phrases:
            parts.append(index.parse_query('"' + " ".join(phrase) + '"', ["content"]))
        for name, values in (
            ("hashtags", query.hashtags),
            ("mentions", query.mentions),
            ("author", query.authors),
        ):
            parts.extend(tantivy.Query.term_query(schema, name, v.casefold()) for v in values)
        combined = tantivy.Query.boolean_query([(tantivy.Occur.Must, p) for p in parts])
        return _ranked(index.searcher(), combined, "tweet_id", limit, offset)

    async def search_users(self, text: str, *, limit: int, offset: int) -> list[int]:
        """Users whose username or display name starts with ``text`` first, then those
        whose bio mentions it."""
        return await trio.to_thread.run_sync(self._search_users, text, limit, offset)

    def _search_users(self, text: str, limit: int, offset: int) -> list[int]:
        index, schema = self._users, self._users.schema
        words = WORD.findall(text.casefold())
        if not words:
            return []
        prefix = re.escape(words[0]) + ".*"
        should = [
            tantivy.Query.boost_query(tantivy.Query.regex_query(schema, "username", prefix), 4.0),
            tantivy.Query.boost_query(
                tantivy.Query.phrase_prefix_query(schema, "display_name", words), 2.0
            ),
            index.parse_query(" ".join(words), ["bio"]),
        ]
        combined = tantivy.Query.boolean_query([(tantivy.Occur.Should, q) for q in should])
        return _ranked(index.searcher(), combined, "user_id", limit, offset)

    def hashtags(self, prefix: str, *, limit: int, offset: int) -> list[tuple[str, int]]:
        """Hashtags starting with ``prefix``, most used first."""
        prefix = prefix.casefold()
        matching = [
            (tag, self._hashtags[tag])
            for tag in self._hashtags.irange(prefix, prefix + "\U0010ffff")
        ]
        matching.sort(key=lambda pair: (-pair[1], pair[0]))
        return matching[offset : offset + limit]

    def _count(self, tags: Sequence[str], delta: int) -> None:
        for tag in tags:
            left = self._hashtags.get(tag, 0) + delta
            if left > 0:
                self._hashtags[tag] = left
            else:
                self._hashtags.pop(tag, None)


_CODEC = records_codec(())


def _ranked(
    searcher: tantivy.Searcher, query: tantivy.Query, id_field: str, limit: int, offset: int
) -> list[int]:
    """Relevance first and, among equal scores, the newer (higher) id. Tantivy breaks ties
    by its own document order (oldest first), so a page cut from its top hits could hold
    older ties and leave newer ones out: the window is widened until the hit after it
    scores lower, then sorted here, every page from the same order."""
    if offset >= DEEPEST:
        return []
    window = offset + limit
    while True:
        hits = searcher.search(query, window + 1).hits
        if len(hits) <= window or hits[window - 1][0] > hits[window][0] or window >= DEEPEST:
            break
        window = min(2 * window, DEEPEST)
    ranked = sorted(
        ((score, searcher.doc(address)[id_field][0]) for score, address in hits[:window]),
        key=lambda pair: (-pair[0], -pair[1]),
    )
    return [found for _, found in ranked[offset : offset + limit]]


def _tweet_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("tweet_id", stored=True, indexed=True, fast=True)
    builder.add_text_field("content", tokenizer_name="en_stem")
    builder.add_text_field("author", tokenizer_name="raw")
    builder.add_text_field("hashtags", tokenizer_name="raw")
    builder.add_text_field("mentions", tokenizer_name="raw")
    return builder.build()


def _user_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("user_id", stored=True, indexed=True, fast=True)
    builder.add_text_field("username", tokenizer_name="raw")
    builder.add_text_field("display_name", tokenizer_name="default")
    builder.add_text_field("bio", tokenizer_name="en_stem")
    return builder.build()


def _open(schema: tantivy.Schema, path: Path | None) -> tantivy.Index:
    if path is None:
        return tantivy.Index(schema)
    path.mkdir(parents=True, exist_ok=True)
    return tantivy.Index(schema, path=str(path))
