"""The gateway project's own deploy checks (gateway/checks.py), and ``check --deploy`` as production runs it.

Production needs an explicit SECRET_KEY (gateway.W001), explicit encryption keys (streaming.W003), a cache
shared by its workers (streaming.W004) and DEBUG off (Django's security.W018). A fresh install hears all
four; the environment the README describes silences them.
"""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from gateway.checks import check_secret_key_is_explicit
from tests.e2e.helpers import REPO_ROOT, gateway_env

PRODUCTION_NEEDS = {"gateway.W001", "streaming.W003", "streaming.W004", "security.W018"}


def ids(**overrides: object) -> list[str]:
    with override_settings(**overrides):
        return [message.id for message in check_secret_key_is_explicit()]


def test_a_generated_secret_key_warns() -> None:
    assert ids(GENERATED_SECRET_KEY_FILE=Path("/srv/gateway/var/secret_key")) == ["gateway.W001"]


def test_a_secret_key_from_the_environment_passes() -> None:
    assert ids(GENERATED_SECRET_KEY_FILE=None) == []


def test_the_secret_key_check_is_for_deploy_only() -> None:
    with override_settings(GENERATED_SECRET_KEY_FILE=Path("/srv/gateway/var/secret_key")):
        assert "gateway.W001" not in [message.id for message in checks.run_checks()]


def test_the_secret_key_check_is_registered() -> None:
    with (
        override_settings(GENERATED_SECRET_KEY_FILE=Path("/srv/gateway/var/secret_key")),
        pytest.raises(SystemCheckError, match=r"gateway\.W001"),
    ):
        call_command("check", deploy=True, fail_level="WARNING")


def deploy_check_ids(tmp_path: Path, **env: str) -> set[str]:
    """``manage.py check --deploy`` in a process of its own: settings come from the environment only there."""
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=REPO_ROOT,
        env=gateway_env(
            data_dir=tmp_path, upstream_url="https://api.openai.com/v1", upstream_key="sk-x", extra=env
        ),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(re.findall(r"\(([a-z_]+\.[CEWI]\d{3})\)", result.stdout + result.stderr))


def test_a_fresh_install_hears_everything_production_needs(tmp_path: Path) -> None:
    assert PRODUCTION_NEEDS.issubset(deploy_check_ids(tmp_path, DJANGO_DEBUG="1"))


def test_the_production_environment_satisfies_the_deploy_checks(tmp_path: Path) -> None:
    production = deploy_check_ids(
        tmp_path,
        SECRET_KEY=secrets.token_urlsafe(50),
        GATEWAY_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        REDIS_URL="redis://127.0.0.1:6379/0",
        WEB_CONCURRENCY="4",
        DJANGO_DEBUG="0",
    )
    assert PRODUCTION_NEEDS.isdisjoint(production)
