"""Shared fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, like uvicorn."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _no_learned_upstream_limits() -> Iterator[None]:
    """What one test taught the gateway about "the upstream" must not leak into the next."""
    from streaming.control import capabilities

    capabilities.forget_all()
    yield
    capabilities.forget_all()
