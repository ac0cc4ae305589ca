"""The control plane's cache backend is shared by every request a thread serves (``streaming.control.shared_cache``).

Under ASGI each request runs in an async context of its own, where ``django.core.cache.cache`` is a new
backend: with Redis a new connection per request (the load test of a wrong-key flood counted 1,002).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import pytest
from django.test import override_settings

from streaming.control.shared_cache import shared_cache

pytestmark = pytest.mark.anyio


async def backend() -> Any:
    return shared_cache()


def in_a_request_of_its_own(coroutine: Any) -> asyncio.Task[Any]:
    """A task in a fresh context, as uvicorn starts each request (where Django's ``cache`` is a new one)."""
    return asyncio.create_task(coroutine, context=contextvars.Context())


async def test_requests_served_by_one_thread_share_one_backend() -> None:
    first, second = await asyncio.gather(
        in_a_request_of_its_own(backend()), in_a_request_of_its_own(backend())
    )

    assert first is second


def test_each_thread_has_a_backend_of_its_own() -> None:
    """Django promises no backend is safe across threads (the database thread uses the cache too)."""
    other: list[Any] = []
    thread = threading.Thread(target=lambda: other.append(shared_cache()))
    thread.start()
    thread.join()

    assert other[0] is not shared_cache()


def test_a_new_caches_setting_gives_a_new_backend() -> None:
    before = shared_cache()
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
        during = shared_cache()

    assert during is not before
    assert type(during).__name__ == "DummyCache"
    assert shared_cache() is not during
