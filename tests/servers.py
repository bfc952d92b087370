"""The real servers the production backends are tested against.

Redis and PostgreSQL run on the development machines (DEVELOPERS.md); DynamoDB is dynalite,
started by the test session when a test first wants it. A server that is not there skips
the tests needing it, except under ``CI=true``, where it fails them: CI must never pass by
testing nothing."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest

REDIS_URL = os.environ.get("CHIRP_TEST_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES_DSN = os.environ.get("CHIRP_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")


def answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def missing(what: str) -> None:
    """Skip, or fail under CI, for want of ``what``."""
    message = f"{what} is not answering"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}, and CI must test every backend", pytrace=False)
    pytest.skip(message)


@dataclass
class Servers:
    """Addresses of the servers, each checked (or started) the first time it is asked for."""

    request: pytest.FixtureRequest
    _checked: dict[str, Any] = field(default_factory=dict)

    @property
    def redis_url(self) -> str:
        if "redis" not in self._checked:
            if not answers(REDIS_URL, 6379):
                missing(f"Redis at {REDIS_URL}")
            self._checked["redis"] = REDIS_URL
        return self._checked["redis"]

    @property
    def postgres_dsn(self) -> str:
        if "postgres" not in self._checked:
            if not answers(POSTGRES_DSN, 5432):
                missing(f"PostgreSQL at {POSTGRES_DSN}")
            self._checked["postgres"] = POSTGRES_DSN
        return self._checked["postgres"]

    @property
    def dynamodb_endpoint(self) -> str:
        return self.request.getfixturevalue("dynalite")
