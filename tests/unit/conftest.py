"""Fixtures for the in-process API tests (``api_client.py``), and for "never logged" tests."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.unit.api_client import _gateway_settings, api, client_key  # noqa: F401  (fixtures)


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture, settings: Any) -> pytest.LogCaptureFixture:
    """Every log line at DEBUG, SQL included with its parameters (DEBUG on): what a secret must never be in."""
    settings.DEBUG = True
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")  # Django's own logging config stops "django" at INFO
    return caplog
