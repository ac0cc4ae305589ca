"""The switch for real services (``tests/services.py``): a missing one skips loudly, or fails in CI."""

from __future__ import annotations

import pytest

from tests import services

MISSING = "/nonexistent/gateway-test-no-such-browser"


def test_a_missing_service_skips_its_tests_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(services.REQUIRE_ENV, raising=False)

    with pytest.raises(
        pytest.skip.Exception, match=r"BROWSER IS MISSING, SO THESE TESTS DID NOT RUN: apt-get"
    ):
        services.executable(MISSING, "Browser", "apt-get install it")


def test_a_missing_service_fails_when_real_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(services.REQUIRE_ENV, "1")

    with pytest.raises(
        pytest.fail.Exception, match=r"Browser is missing but GATEWAY_REQUIRE_REAL_SERVICES=1"
    ):
        services.executable(MISSING, "Browser", "apt-get install it")


def test_a_present_service_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(services.REQUIRE_ENV, "1")

    assert services.executable("/bin/sh", "A shell", "") == "/bin/sh"
