from __future__ import annotations

import pytest

from tests.servers import Servers


@pytest.fixture(scope="session")
def servers(request: pytest.FixtureRequest) -> Servers:
    """The real servers, for tests of the production backends."""
    return Servers(request)


@pytest.fixture(scope="session")
def dynalite() -> str:
    """The endpoint of a dynalite server started for this test session."""
    from tests.dynalite import running_dynalite  # written with the DynamoDB backend

    with running_dynalite() as endpoint:
        yield endpoint
