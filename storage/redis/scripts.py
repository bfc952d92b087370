"""Lua scripts run by their SHA, cheaply, and reloaded when the server forgot them."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import coredis
from coredis.exceptions import NoScriptError

T = TypeVar("T")


class Script:
    """One script: its SHA is known up front, so calls are a plain EVALSHA (coredis's own
    script wrapper costs more than the command). A server that restarted, or flushed its
    scripts, answers NOSCRIPT: `reloading` loads it again and retries."""

    def __init__(self, client: coredis.Redis, source: str) -> None:
        self._client = client
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    def queue(self, target: Any, keys: Sequence[str], args: Sequence[Any]) -> Awaitable[Any]:
        """Queue a call on ``target`` (a pipeline or the client); await the result."""
        return target.evalsha(self.sha, keys=keys, args=args)

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await reloading([self], lambda: self.queue(self._client, keys, args))

    async def load(self) -> None:
        await self._client.script_load(self.source)


async def reloading(scripts: Sequence[Script], attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt()``, once more after loading ``scripts`` if the server had lost them.
    Only for idempotent work: what ran before the NOSCRIPT runs again."""
    try:
        return await attempt()
    except NoScriptError:
        for script in scripts:
            await script.load()
        return await attempt()
