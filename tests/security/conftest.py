"""The security suite runs chirp embedded (`tests.api.conftest.running` without a
configuration is the embedded one); a case that depends on the backend asks for
`every_configuration` and runs on the real servers as well."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import pytest
import trio

from chirp.server import Chirp, Running, serve
from tests.api import conftest as api
from tests.configurations import production_overrides
from tests.servers import Servers


@pytest.fixture
async def chirp(nursery: trio.Nursery) -> Chirp:
    return await api.running(nursery)


@pytest.fixture
async def served(nursery: trio.Nursery) -> Running:
    """chirp served by hypercorn on 127.0.0.1 (a free port), as `python main.py` serves it."""
    return await nursery.start(
        partial(serve, api.fast_settings(port=0), shutdown_trigger=trio.Event().wait)
    )


@pytest.fixture(params=api.CONFIGURATIONS)
def every_configuration(request: pytest.FixtureRequest, servers: Servers) -> Iterator[str]:
    """Makes `running` assemble chirp in each configuration the API suite knows."""
    overrides = production_overrides(servers) if request.param == "production" else None
    api._production["overrides"] = overrides
    yield request.param
    api._production["overrides"] = None
