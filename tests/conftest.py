"""Shared fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (``@pytest.mark.anyio``) run on asyncio, like uvicorn."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _fresh_control_plane(settings: Any) -> Iterator[None]:
    """What one test taught the gateway (learned capabilities, verified keys, counters in the cache, its
    configuration snapshot) must not leak into the next. Usage records are off unless a test turns them on
    (and then flushes them itself): a background writer outliving its test would write into the next."""
    from django.core.cache import cache

    from streaming.control.registry import registry

    settings.GATEWAY_RECORD_USAGE = False
    cache.clear()
    registry.reset()
    yield
    cache.clear()
    registry.reset()
