"""Shared fixtures for the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """respx mocks the gateway's httpx2 client, whatever a test's router names (tests/respx_httpx2.py)."""
    from tests.respx_httpx2 import mock_httpx2_by_default

    mock_httpx2_by_default()


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

    from streaming.api import draining
    from streaming.control.registry import registry

    settings.GATEWAY_RECORD_USAGE = False
    cache.clear()
    registry.reset()
    draining.reset()
    yield
    cache.clear()
    registry.reset()
    draining.reset()


@pytest.fixture(scope="session", autouse=True)
def _close_connections_of_other_threads(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """Async tests reach the database from worker threads (asgiref's, the gateway's database thread), whose
    connections outlive the test; PostgreSQL refuses to drop the test database while they are open."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    from streaming.control.db_thread import _executor

    with django_db_blocker.unblock():
        for executor in (SyncToAsync.single_thread_executor, _executor):
            executor.submit(connections.close_all).result()
