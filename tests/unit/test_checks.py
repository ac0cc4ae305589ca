"""System checks: one id per misconfiguration, each reported by ``manage.py check``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from streaming.checks import check_settings

ROOT = Path(__file__).resolve().parents[2]
CHECK_ID = re.compile(r"streaming\.[EW]\d{3}")

CONFIGURED = {"OPENAI_API_KEY": "sk-test"}
LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
}


@pytest.fixture(autouse=True)
def _one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's own WEB_CONCURRENCY must not decide these tests."""
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)


def ids(**overrides: object) -> list[str]:
    with override_settings(**{**CONFIGURED, **overrides}):
        return [message.id for message in check_settings()]


def test_defaults_with_a_key_pass() -> None:
    assert ids() == []


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "", 42])
def test_base_url_must_be_http(url: object) -> None:
    assert ids(OPENAI_BASE_URL=url) == ["streaming.E001"]


@pytest.mark.parametrize("value", ["claude-*", "=gpt-5", 12])
def test_model_map_must_parse(value: object) -> None:
    assert ids(GATEWAY_MODEL_MAP=value) == ["streaming.E002"]


@pytest.mark.parametrize("value", [0, -1, "5", True])
def test_timeouts_and_limits_must_be_positive_numbers(value: object) -> None:
    assert ids(GATEWAY_READ_TIMEOUT=value) == ["streaming.E003"]


def test_keepalive_expiry_must_be_a_positive_number() -> None:
    assert ids(GATEWAY_KEEPALIVE_EXPIRY=0) == ["streaming.E003"]


@pytest.mark.parametrize("value", [-0.1, 2.5, 10, "1", True])
def test_pool_timeout_must_be_a_short_queue_bound(value: object) -> None:
    assert ids(GATEWAY_POOL_TIMEOUT=value) == ["streaming.E009"]


@pytest.mark.parametrize("value", [0, 0.5, 2])
def test_pool_timeout_from_zero_to_two_seconds_passes(value: object) -> None:
    assert ids(GATEWAY_POOL_TIMEOUT=value) == []


def test_models_must_be_a_list_of_names() -> None:
    assert ids(GATEWAY_MODELS="claude-x") == ["streaming.E004"]


def test_count_tokens_mode_must_be_known() -> None:
    assert ids(GATEWAY_COUNT_TOKENS="tiktoken") == ["streaming.E005"]


@pytest.mark.parametrize(
    "profiles",
    [{"gpt-5*": True}, {"gpt-5*": {"temperature": 0}}, {"gpt-5*": {"reasoning_efforts": ["extreme"]}}],
)
def test_model_profiles_must_parse(profiles: object) -> None:
    assert ids(GATEWAY_MODEL_PROFILES=profiles) == ["streaming.E006"]


def test_missing_upstream_key_warns() -> None:
    assert ids(OPENAI_API_KEY=None) == ["streaming.W001"]


def test_missing_correlation_middleware_warns() -> None:
    assert ids(MIDDLEWARE=[]) == ["streaming.W002"]


def test_checks_are_registered() -> None:
    with (
        override_settings(OPENAI_BASE_URL="ftp://nowhere"),
        pytest.raises(SystemCheckError, match=r"streaming\.E001"),
    ):
        call_command("check")


def test_a_removed_setting_is_named() -> None:
    assert ids(GATEWAY_CLIENT_KEY_CACHE_SECONDS=30) == ["streaming.E007"]


@pytest.mark.parametrize("value", ["not-a-key", ["short"], 42])
def test_encryption_keys_must_be_fernet_keys(value: object) -> None:
    assert ids(GATEWAY_ENCRYPTION_KEYS=value) == ["streaming.E008"]


def test_valid_encryption_keys_pass() -> None:
    assert (
        ids(GATEWAY_ENCRYPTION_KEYS=f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}")
        == []
    )


def test_a_metrics_token_without_prometheus_client_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # not installed: no [metrics] extra
    assert ids(GATEWAY_METRICS_TOKEN="metrics-secret") == ["streaming.E010"]


def test_prometheus_client_is_not_needed_without_a_metrics_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    assert ids() == []


def test_local_memory_with_several_workers_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert ids(CACHES=LOCAL_MEMORY) == ["streaming.W004"]


def test_a_shared_cache_with_several_workers_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert ids(CACHES=REDIS) == []


@pytest.mark.parametrize("workers", ["1", "", "auto"])
def test_local_memory_with_one_worker_passes_the_everyday_checks(
    workers: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", workers)
    assert ids(CACHES=LOCAL_MEMORY) == []


def test_every_check_id_is_explained_in_docs_integrate() -> None:
    reported = set(CHECK_ID.findall((ROOT / "streaming" / "checks.py").read_text()))
    explained = set(CHECK_ID.findall((ROOT / "docs" / "integrate.md").read_text()))
    assert reported - explained == set()


def deploy_ids(**overrides: object) -> list[str]:
    from streaming.checks import check_deployment

    with override_settings(**{**CONFIGURED, **overrides}):
        return [message.id for message in check_deployment()]


PRODUCTION = {"GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "CACHES": REDIS}


def test_a_production_configuration_passes_the_deploy_checks() -> None:
    assert deploy_ids(**PRODUCTION) == []


def test_deploy_check_warns_when_upstream_keys_are_encrypted_with_a_key_derived_from_secret_key() -> None:
    assert deploy_ids(**{**PRODUCTION, "GATEWAY_ENCRYPTION_KEYS": None}) == ["streaming.W003"]


def test_deploy_check_warns_about_a_process_local_cache_even_when_no_worker_count_is_set() -> None:
    assert deploy_ids(**{**PRODUCTION, "CACHES": LOCAL_MEMORY}) == ["streaming.W004"]


def test_a_process_local_cache_with_several_workers_is_reported_once_under_deploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    with override_settings(**{**CONFIGURED, **PRODUCTION, "CACHES": LOCAL_MEMORY}):
        issues = checks.run_checks(include_deployment_checks=True)
    assert [issue.id for issue in issues if issue.id.startswith("streaming.")] == ["streaming.W004"]


def test_deploy_checks_are_registered() -> None:
    with (
        override_settings(**CONFIGURED, **{**PRODUCTION, "CACHES": LOCAL_MEMORY}),
        pytest.raises(SystemCheckError, match=r"streaming\.W004"),
    ):
        call_command("check", deploy=True, fail_level="WARNING")
