"""Round trips to Redis as the log makes them: Redis's failures, and the refusals its scripts
reply with, become the log's errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from coredis.exceptions import RedisError

from storage.protocols import LeaseLost, LogUnavailable

from .leases import uncancelled

_LEASE_LOST = "LEASELOST"
_BAD_OFFSET = "BADOFFSET"
_REDIS_ERRORS = (RedisError, OSError, TimeoutError)


@contextmanager
def _request(what: str) -> Iterator[None]:
    """A round trip whose failures are the log's errors, not cut short by cancellation."""
    with _served(what), uncancelled():
        yield


@contextmanager
def _served(what: str) -> Iterator[None]:
    """Redis's failures as the log's errors."""
    try:
        yield
    except _REDIS_ERRORS as exc:
        message = str(exc)
        if message.startswith(_LEASE_LOST):
            raise LeaseLost(f"{what}: {message.removeprefix(_LEASE_LOST).strip()}") from exc
        if message.startswith(_BAD_OFFSET):
            raise ValueError(f"{what}: {message.removeprefix(_BAD_OFFSET).strip()}") from exc
        raise LogUnavailable(f"{what}: {exc}") from exc
