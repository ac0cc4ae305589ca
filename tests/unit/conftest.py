"""Fixtures for the in-process API tests (``api_client.py``)."""

from __future__ import annotations

from tests.unit.api_client import _gateway_settings, api, client_key  # noqa: F401  (fixtures)
