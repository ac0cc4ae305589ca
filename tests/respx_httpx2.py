"""respx for the gateway's httpx2 client: every respx router in the suite mocks httpx2, not httpx.

respx 0.23 mocks httpx by patching its transport package, httpcore; the gateway's client is httpx2
(requirements.txt says why), whose transport package is httpcore2, and respx has no httpx2 support yet
(lundberg/respx#317). pytest-httpx2, by respx's author, registers respx's mocker for httpcore2 as
``"httpcore2"``; ``mock_httpx2_by_default`` (called once, from tests/conftest.py) makes it respx's
default, so ``respx.mock`` and ``respx.mock(...)`` patch httpx2's connection pool: the gateway's own code
path stays real down to the pool, exactly as far as respx's default mocker goes for httpx, and a gateway
still calling httpx would not be intercepted at all. Routes answer with ``httpx.Response`` (respx's
response model); an exception a route or a body raises must be httpx2's, since that is what the gateway
catches.
"""

from __future__ import annotations

import pytest_httpx2  # noqa: F401  (importing it registers the "httpcore2" mocker with respx)
import respx.mocks

USING = "httpcore2"


def mock_httpx2_by_default() -> None:
    """Routers that name no mocker (``using=``) take this one when they start."""
    respx.mocks.DEFAULT_MOCKER = USING
