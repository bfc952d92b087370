"""What the HTTP load drivers share: the request to send and the result of a run.

Two drivers fill a `LoadResult`: `bench.wrk` (closed loop: wrk keeps N connections busy,
each sending as soon as its last answer came) and `bench.openloop` (open loop: requests
are due at a fixed rate whatever the server does, and a late answer makes the requests
behind it late too, which their latency shows)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Replaced, in a request's path and body, by a number no other request of the run gets.
SEQ = "{seq}"
#: The keys of `LoadResult.latency_ms`.
LATENCY_KEYS = ("p50", "p90", "p99", "p99.9", "mean", "max")
PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""

    def wire_headers(self) -> tuple[tuple[str, str], ...]:
        """The headers as sent: a body without a Content-Type is JSON (chirp's API)."""
        if self.body and not any(name.lower() == "content-type" for name, _ in self.headers):
            return (*self.headers, ("Content-Type", "application/json"))
        return self.headers

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "headers": [list(pair) for pair in self.headers],
            "body": self.body,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Request:
        return cls(
            method=data["method"],
            path=data["path"],
            headers=tuple((name, value) for name, value in data.get("headers", ())),
            body=data.get("body", ""),
        )


@dataclass
class LoadResult:
    driver: str
    seconds: float
    requests: int
    rate: float
    #: Exact status codes, for both drivers.
    statuses: dict[int, int]
    errors: int
    latency_ms: dict[str, float]
    target_rate: float | None = None
    #: Open loop: every latency, in the order the requests were due. wrk: empty.
    latencies_ms: list[float] = field(default_factory=list)
    #: (second since start, responses completed in it).
    timeline: list[tuple[float, int]] = field(default_factory=list)

    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    def to_json(self) -> dict[str, Any]:
        """Everything, as plain JSON values: ``json.loads(json.dumps(r.to_json()))`` equals
        ``r.to_json()`` (status codes become string keys, the timeline lists)."""
        return {
            "driver": self.driver,
            "seconds": self.seconds,
            "requests": self.requests,
            "rate": self.rate,
            "statuses": {str(status): count for status, count in sorted(self.statuses.items())},
            "errors": self.errors,
            "latency_ms": dict(self.latency_ms),
            "target_rate": self.target_rate,
            "latencies_ms": list(self.latencies_ms),
            "timeline": [[second, count] for second, count in self.timeline],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LoadResult:
        return cls(
            driver=data["driver"],
            seconds=data["seconds"],
            requests=data["requests"],
            rate=data["rate"],
            statuses={int(status): count for status, count in data["statuses"].items()},
            errors=data["errors"],
            latency_ms=dict(data["latency_ms"]),
            target_rate=data.get("target_rate"),
            latencies_ms=list(data.get("latencies_ms", ())),
            timeline=[(second, count) for second, count in data.get("timeline", ())],
        )


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``ordered`` (sorted): a value that was seen,
    as wrk's HdrHistogram reports, not an interpolation between two."""
    if not ordered:
        return 0.0
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def latency_summary(latencies_ms: Iterable[float]) -> dict[str, float]:
    """`LoadResult.latency_ms` from every latency; all zero when there is none."""
    ordered = sorted(latencies_ms)
    summary = {key: percentile(ordered, p) for key, p in PERCENTILES.items()}
    summary["mean"] = sum(ordered) / len(ordered) if ordered else 0.0
    summary["max"] = ordered[-1] if ordered else 0.0
    return summary


def timeline(counts: Mapping[int, int], origin: int | None = None) -> list[tuple[float, int]]:
    """Per-second counts as `LoadResult.timeline`, seconds counted from ``origin`` (default:
    the first with a count), the quiet seconds in between as zeros: a stall must show as a
    gap in the plot, not be skipped."""
    if not counts:
        return []
    first = min(counts) if origin is None else origin
    return [
        (float(second - first), counts.get(second, 0)) for second in range(first, max(counts) + 1)
    ]
