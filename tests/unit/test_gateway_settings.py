"""streaming/conf.py: the app's settings object remembers what it read, and forgets it when a setting changes."""

from __future__ import annotations

from django.test import override_settings

from streaming.conf import DEFAULTS, gateway_settings
from streaming.control.registry import Snapshot
from streaming.control.routing import route_for


def test_a_setting_follows_override_settings_in_and_out() -> None:
    before = gateway_settings.POOL_TIMEOUT

    with override_settings(GATEWAY_POOL_TIMEOUT=0.25):
        inside = gateway_settings.POOL_TIMEOUT

    assert (before, inside, gateway_settings.POOL_TIMEOUT) == (before, 0.25, before)


def test_a_setting_left_at_its_default_reads_the_default() -> None:
    assert DEFAULTS["GATEWAY_UPSTREAM_RETRIES"] == gateway_settings.UPSTREAM_RETRIES


def test_routing_follows_a_changed_model_map_and_upstream() -> None:
    snapshot = Snapshot(version="v")
    with override_settings(GATEWAY_MODEL_MAP="claude-*=gpt-a", OPENAI_BASE_URL="http://one.test/v1"):
        first = route_for("claude-x", snapshot)
    with override_settings(GATEWAY_MODEL_MAP="claude-*=gpt-b", OPENAI_BASE_URL="http://two.test/v1"):
        second = route_for("claude-x", snapshot)

    assert (first.target.upstream_model, first.upstream.base_url) == ("gpt-a", "http://one.test/v1")
    assert (second.target.upstream_model, second.upstream.base_url) == ("gpt-b", "http://two.test/v1")
