"""How long store calls take, per backend, store and operation: a histogram in
prometheus-client's process-wide registry, which ``GET /metrics`` includes."""

from __future__ import annotations

from prometheus_client import Histogram

STORAGE_SECONDS = Histogram(
    "chirp_storage_call_duration_seconds",
    "Store calls (round trips included) by backend, store and operation",
    ["backend", "store", "operation"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)


def backend_of(module: str) -> str:
    """``storage.redis.feedcache`` -> ``redis``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "storage" else module
