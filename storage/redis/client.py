"""Opening Redis: one coredis client per process (native trio, through anyio)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import coredis
import coredis.exceptions

from storage.protocols import BackendUnavailable


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


@asynccontextmanager
async def open_redis(url: str, *, connect_timeout: float = 5.0) -> AsyncIterator[coredis.Redis]:
    """A client for ``url`` (``redis://host:port/db``), closed on exit, once the server
    answered PING. Raises `BackendUnavailable` naming the server when it does not answer,
    instead of failing at the first request."""
    reason = await _unreachable_reason(url, connect_timeout)
    if reason is not None:
        raise BackendUnavailable("redis", redacted(url), reason)
    async with _client(url, connect_timeout) as client:
        yield client


#: How long a reply may take before the request fails: bounds every shielded call.
REPLY_TIMEOUT = 10.0


def _client(url: str, connect_timeout: float) -> coredis.Redis:
    return coredis.Redis.from_url(
        url, decode_responses=False, connect_timeout=connect_timeout, stream_timeout=REPLY_TIMEOUT
    )


async def _unreachable_reason(url: str, connect_timeout: float) -> str | None:
    """Why a PING to ``url`` got no answer; None once one did. A client of its own, so a
    failure here cannot get tangled with the caller's work (coredis wraps it in its task
    group's ExceptionGroup on the way out)."""
    try:
        async with _client(url, connect_timeout) as probe:
            await probe.ping()
    except BaseException as exc:  # noqa: BLE001 - sorted below; the rest re-raised
        reason = _unreachable(exc)
        if reason is None:
            raise
        return reason
    return None


def _unreachable(exc: BaseException) -> str | None:
    """What ``exc`` says about reaching the server, if that is all it says."""
    if isinstance(exc, BaseExceptionGroup):
        reasons = [_unreachable(inner) for inner in exc.exceptions]
        if not reasons or None in reasons:
            return None
        return "; ".join(r for r in reasons if r)
    if isinstance(exc, OSError | TimeoutError | coredis.exceptions.ConnectionError):
        return str(exc) or type(exc).__name__
    return None
