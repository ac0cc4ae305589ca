"""``tests.servers.need``, the switch for tests that need a real component: a missing one skips the test
loudly on a developer's machine, and fails it under ``GATEWAY_REQUIRE_REAL_SERVICES=1`` (CI)."""

from __future__ import annotations

import pytest

from tests.servers import need


def test_a_missing_component_skips_its_test_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GATEWAY_REQUIRE_REAL_SERVICES", raising=False)

    with pytest.raises(
        pytest.skip.Exception, match="SKIPPED FOR A MISSING SERVICE: Chromium is not installed"
    ):
        need("Chromium", None)


def test_a_missing_component_fails_its_test_when_real_services_are_required(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_REQUIRE_REAL_SERVICES", "1")

    with pytest.raises(pytest.fail.Exception, match="GATEWAY_REQUIRE_REAL_SERVICES=1 forbids skipping"):
        need("Chromium", None)


def test_a_present_component_lets_the_test_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_REQUIRE_REAL_SERVICES", "1")

    need("Chromium", "/usr/bin/chromium")
