"""respx for the gateway's httpx2 client.

respx 0.23 mocks httpx by patching its transport package, httpcore; the gateway's client is httpx2
(requirements.txt says why), whose transport package is httpcore2. pytest-httpx2, by respx's author,
registers respx's mocker for httpcore2 under the name ``USING``; every respx router in the tests passes
``using=USING``. So the gateway's own code path stays real down to httpx2's connection pool, exactly as
far as respx's default mocker goes for httpx. Routes still answer with ``httpx.Response`` (respx's
response model); an exception a route or a body raises must be httpx2's, since that is what the gateway
catches.
"""

from __future__ import annotations

import pytest_httpx2  # noqa: F401  (importing it registers the "httpcore2" mocker with respx)

USING = "httpcore2"
