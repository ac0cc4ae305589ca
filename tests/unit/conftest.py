"""Fixtures for the in-process API tests (``api_client.py``), and for "never logged" tests."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.servers import free_port
from tests.unit.api_client import _gateway_settings, api, client_key  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    """A real HTTP/1.1 Responses upstream on loopback, one per test module."""
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def redis_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Django's cache on a Redis that is not there (a free port on loopback: connection refused); the
    warning that says so is logged again at once, whatever an earlier test logged."""
    from django.test import override_settings

    from streaming.control import counters

    monkeypatch.setattr(counters, "_last_warned", float("-inf"))
    url = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    ):
        yield


@pytest.fixture
def upstream(fake: FakeUpstream, settings: Any) -> Iterator[FakeUpstream]:
    """``fake`` as the settings' upstream, forgetting earlier tests' requests; idle again after the test."""
    settings.OPENAI_API_KEY = "sk-test-0123456789abcdefghij"
    settings.OPENAI_BASE_URL = fake.url
    fake.reset()
    yield fake
    fake.wait_for_idle()


@pytest.fixture
def database_loads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the registry went to the database: ``keys`` (a key lookup), ``snapshots`` (configuration)."""
    from streaming.control import registry

    counts: Counter[str] = Counter()
    load_identity, load_snapshot = registry._load_identity, registry._load_snapshot

    def counted_identity(key_hash: str) -> Any:
        counts["keys"] += 1
        return load_identity(key_hash)

    def counted_snapshot(*args: Any) -> Any:
        counts["snapshots"] += 1
        return load_snapshot(*args)

    monkeypatch.setattr(registry, "_load_identity", counted_identity)
    monkeypatch.setattr(registry, "_load_snapshot", counted_snapshot)
    return counts


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture, settings: Any) -> pytest.LogCaptureFixture:
    """Every log line at DEBUG, SQL included with its parameters (DEBUG on): what a secret must never be in."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")  # Django's own logging config stops "django" at INFO
    return caplog
