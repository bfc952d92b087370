"""How long store calls take, per backend, store and operation: a histogram in
prometheus-client's process-wide registry, which ``GET /metrics`` includes and the
dashboard reads."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from prometheus_client import Histogram

C = TypeVar("C", bound=type)
Method = Callable[..., Awaitable[Any]]

STORAGE_SECONDS = Histogram(
    "chirp_storage_call_duration_seconds",
    "Store calls (round trips included) by backend, store and operation",
    ["backend", "store", "operation"],
    # From an embedded store's dict lookup (microseconds) to a networked round trip.
    buckets=(
        1e-5,
        2.5e-5,
        5e-5,
        1e-4,
        2.5e-4,
        5e-4,
        1e-3,
        2.5e-3,
        5e-3,
        0.01,
        0.025,
        0.05,
        0.1,
        0.25,
        1.0,
    ),
)


def backend_of(module: str) -> str:
    """``storage.redis.feedcache`` -> ``redis``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "storage" else module


def timed(cls: C) -> C:
    """Time every public coroutine method of ``cls`` into `STORAGE_SECONDS`."""
    return wrap_methods(cls, lambda method: method)


def wrap_methods(cls: C, wrap: Callable[[Method], Method]) -> C:
    """Replace each public coroutine method of ``cls`` by ``wrap(method)``, timed.
    The series appears at the first call, so a process lists only the stores it uses."""
    backend = backend_of(cls.__module__)
    for name, method in list(vars(cls).items()):
        if not name.startswith("_") and inspect.iscoroutinefunction(method):
            labels = (backend, cls.__name__, name)
            setattr(cls, name, _timed(wrap(method), method, labels))
    return cls


def _timed(call: Method, original: Method, labels: tuple[str, str, str]) -> Method:
    series: list[Any] = []

    @functools.wraps(original)
    async def timed_call(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            if not series:
                series.append(STORAGE_SECONDS.labels(*labels))
            series[0].observe(time.perf_counter() - started)

    return timed_call
