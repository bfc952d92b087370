"""Journaling an embedded store's mutating calls, and replaying them.

A journaled call is encoded first (so an argument the journal cannot take fails the call
before anything changes), then applied to the store at once, then appended, with no
checkpoint between applying and appending: the journal's order is the order in which calls
changed the stores, whichever task made them. Only then does the call wait for the entry to
be durable and return. Replay makes the same calls, in the same order, on stores restored
from the snapshot before it. Each entry is ``[store, method, args, kwargs]``. A call whose
answer says it changed nothing may be left out (``unchanged``): replay needs only changes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import trio

#: Arguments that pass into a journal entry as they are; any other iterable (a generator,
#: a dict view, a sorted list) is made a list first, for the store and the journal alike.
_KEPT = (str, bytes, Mapping, list, tuple, set, frozenset)


class EntrySink(Protocol):
    """Where journaled calls go: a `storage.durable.Journal`."""

    @property
    def next_seq(self) -> int: ...

    def encode(self, value: Any) -> bytes: ...

    def append_encoded(self, payload: bytes) -> int: ...

    async def durable(self, seq: int) -> None: ...


class Suspended(RuntimeError):
    """A store method awaited something before it finished: it cannot be journaled, since
    another call could change the store between its effect and its entry."""


def applied_now(outcome: Any) -> Any:
    """``outcome`` itself or, for a coroutine, what it returns when run to its end right now.
    Raises `Suspended` (after closing it) for a coroutine that would wait on anything, and
    whatever the coroutine raises."""
    if not inspect.iscoroutine(outcome):
        return outcome
    try:
        outcome.send(None)
    except StopIteration as finished:
        return finished.value
    outcome.close()
    raise Suspended(f"{outcome.__qualname__} awaited before finishing: it cannot be journaled")


Unchanged = Callable[[Any], bool]
"""Says, from what a call answered, that it changed nothing (``like`` answering False)."""


def journal_calls(
    store: Any,
    name: str,
    sink: EntrySink,
    methods: Iterable[str],
    *,
    unchanged: Mapping[str, Unchanged] | None = None,
) -> None:
    """Journal every call of ``methods`` on this ``store`` instance (its class, and other
    instances, are untouched) under ``name``, through ``sink``.

    Each method must change the store without awaiting (`Suspended` otherwise) and either
    change it or raise, never both: a call that raises is not journaled. A coroutine method
    returns once its entry is durable; a synchronous one (a bulk load) returns at once,
    journaled but not yet durable: its caller waits for the sink when it needs to.

    ``unchanged`` maps some of the methods to what their answer says when the call changed
    nothing: such a call is not journaled (so every entry of those methods is a change, as
    the start-up repair needs), and returns once every entry journaled before it is durable,
    since what it found may be the work of a call still waiting for its entry."""
    for method in methods:
        original = getattr(store, method)
        nothing = (unchanged or {}).get(method)
        setattr(store, method, _journaled(original, name, method, sink, nothing))


def replay(stores: Mapping[str, Any], entry: list[Any]) -> None:
    """Make the call ``entry`` records on its store, as `journal_calls` recorded it."""
    name, method, args, kwargs = entry
    applied_now(getattr(stores[name], method)(*args, **kwargs))


def _journaled(
    original: Callable[..., Any],
    name: str,
    method: str,
    sink: EntrySink,
    nothing: Unchanged | None,
) -> Callable[..., Any]:
    def apply(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, int]:
        args = tuple(map(_materialized, args))
        kwargs = {key: _materialized(value) for key, value in kwargs.items()}
        payload = sink.encode([name, method, list(args), kwargs])
        result = applied_now(original(*args, **kwargs))
        if nothing is not None and nothing(result):
            return result, sink.next_seq - 1  # not journaled: wait for what came before
        return result, sink.append_encoded(payload)

    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def journaled(*args: Any, **kwargs: Any) -> Any:
            result, seq = apply(args, kwargs)
            if seq:
                await sink.durable(seq)
            else:
                await trio.lowlevel.checkpoint()
            return result

        return journaled

    @functools.wraps(original)
    def journaled_sync(*args: Any, **kwargs: Any) -> Any:
        return apply(args, kwargs)[0]

    return journaled_sync


def _materialized(value: Any) -> Any:
    if isinstance(value, Iterable) and not isinstance(value, _KEPT):
        return list(value)
    return value
