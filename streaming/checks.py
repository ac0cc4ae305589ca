"""System checks for the gateway's settings (ids ``streaming.E0xx`` / ``streaming.W0xx``, stable forever).

They tell an operator, or a host site that installs the app, what is misconfigured before the first
request fails.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from streaming.conf import DEFAULTS, NUMERIC_SETTINGS, REMOVED_SETTINGS

_COUNT_MODES = ("auto", "upstream", "local")
MAX_POOL_TIMEOUT = 2.0
"""Longest a request may queue for an upstream connection (issue 9): past it, 529 beats waiting."""
_OWN_RANGE = frozenset({"GATEWAY_POOL_TIMEOUT"})  # numeric settings checked below rather than as positive
_MAY_BE_ZERO = frozenset({"GATEWAY_UPSTREAM_RETRIES"})  # 0 turns the feature off
PROCESS_LOCAL_CACHES = frozenset({"django.core.cache.backends.locmem.LocMemCache"})
"""Cache backends each worker process keeps to itself: limits, the config version and learned facts live there."""


def _setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    from streaming.control.profiles import parse_model_profiles
    from streaming.control.routing import parse_model_map

    errors: list[CheckMessage] = []
    base_url = _setting("OPENAI_BASE_URL")
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        errors.append(
            Error(
                "OPENAI_BASE_URL must be an http(s) URL.",
                hint="Set it to the upstream's API root, e.g. https://api.openai.com/v1.",
                id="streaming.E001",
            )
        )
    try:
        parse_model_map(_setting("GATEWAY_MODEL_MAP"))
    except (ValueError, TypeError) as exc:
        errors.append(
            Error(
                f"GATEWAY_MODEL_MAP is invalid: {exc}",
                hint='Use comma-separated glob=model pairs, e.g. "claude-*haiku*=gpt-5-mini,claude-*=gpt-5".',
                id="streaming.E002",
            )
        )
    for name in (name for name in NUMERIC_SETTINGS if name not in _OWN_RANGE):
        value = _setting(name)
        lowest_ok = 0 if name in _MAY_BE_ZERO else 1e-9
        if isinstance(value, bool) or not isinstance(value, int | float) or value < lowest_ok:
            errors.append(
                Error(
                    f"{name} must be a {'non-negative' if name in _MAY_BE_ZERO else 'positive'} number.",
                    hint=f"Default: {DEFAULTS[name]!r}.",
                    id="streaming.E003",
                )
            )
    pool_timeout = _setting("GATEWAY_POOL_TIMEOUT")
    if (
        isinstance(pool_timeout, bool)
        or not isinstance(pool_timeout, int | float)
        or not 0 <= pool_timeout <= MAX_POOL_TIMEOUT
    ):
        errors.append(
            Error(
                f"GATEWAY_POOL_TIMEOUT must be a number of seconds from 0 to {MAX_POOL_TIMEOUT:g}.",
                hint=(
                    "It bounds how long a request queues for a free upstream connection before the client "
                    f"gets 529 overloaded_error (0: answer at once). Default: {DEFAULTS['GATEWAY_POOL_TIMEOUT']!r}."
                ),
                id="streaming.E009",
            )
        )
    models = _setting("GATEWAY_MODELS")
    if not isinstance(models, list | tuple) or not all(isinstance(m, str) and m for m in models):
        errors.append(
            Error(
                "GATEWAY_MODELS must be a list of model names.",
                hint="e.g. ['claude-sonnet-4-6']",
                id="streaming.E004",
            )
        )
    if _setting("GATEWAY_COUNT_TOKENS") not in _COUNT_MODES:
        errors.append(
            Error(f"GATEWAY_COUNT_TOKENS must be one of {', '.join(_COUNT_MODES)}.", id="streaming.E005")
        )
    try:
        parse_model_profiles(_setting("GATEWAY_MODEL_PROFILES"))
    except ValueError as exc:
        errors.append(
            Error(
                f"GATEWAY_MODEL_PROFILES is invalid: {exc}",
                hint='e.g. {"gpt-5*": {"reasoning": True, "max_output_tokens": 128000}}',
                id="streaming.E006",
            )
        )
    if not _setting("OPENAI_API_KEY"):
        errors.append(
            Warning(
                "OPENAI_API_KEY is not set: API requests fail unless a default upstream is added in the admin.",
                hint="Export OPENAI_API_KEY before starting the gateway, or add an upstream in the admin.",
                id="streaming.W001",
            )
        )
    for name, replacement in REMOVED_SETTINGS.items():
        if hasattr(settings, name):
            errors.append(
                Error(f"{name} was removed: {replacement}.", hint=f"Remove {name}.", id="streaming.E007")
            )
    errors += _check_encryption_keys()
    if (
        not apps.is_installed("django_guid")
        or "django_guid.middleware.guid_middleware" not in settings.MIDDLEWARE
    ):
        errors.append(
            Warning(
                "django-guid is not set up: logs, upstream calls and responses will carry no correlation ID.",
                hint='Add "django_guid" to INSTALLED_APPS and "django_guid.middleware.guid_middleware" first in MIDDLEWARE.',
                id="streaming.W002",
            )
        )
    if _setting("GATEWAY_METRICS_TOKEN") and importlib.util.find_spec("prometheus_client") is None:
        errors.append(
            Error(
                "GATEWAY_METRICS_TOKEN is set but prometheus-client is not installed: GET /metrics would fail.",
                hint='Install the extra: pip install "anthropic-openai-gateway[metrics]".',
                id="streaming.E010",
            )
        )
    if several_workers():
        errors += _check_cache_is_shared(
            f"WEB_CONCURRENCY says {os.environ['WEB_CONCURRENCY'].strip()} workers"
        )
    return errors


def several_workers() -> bool:
    """Whether the deployment says it runs several worker processes: ``WEB_CONCURRENCY``, the default worker
    count of uvicorn and gunicorn. A ``--workers`` flag on the server's command line cannot be seen from here,
    which is why ``check --deploy`` warns about a process-local cache whatever this says."""
    try:
        return int(os.environ.get("WEB_CONCURRENCY", "1")) > 1
    except ValueError:
        return False


def _check_cache_is_shared(why: str, *, silence: str = "") -> list[CheckMessage]:
    backend = str(settings.CACHES.get("default", {}).get("BACKEND", ""))
    if backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        Warning(
            f"The default cache ({backend.rsplit('.', 1)[-1]}) is each process's own memory and {why}: "
            "rate and stream limits count per process, and a change made in the admin (a key revoked, a "
            "route moved) reaches the other workers only after GATEWAY_CONFIG_MAX_AGE_SECONDS.",
            hint='Give every worker one shared cache: Redis (pip install "anthropic-openai-gateway[redis]"; '
            f"the gateway project uses it when REDIS_URL is set).{silence}",
            id="streaming.W004",
        )
    ]


def _check_encryption_keys() -> list[CheckMessage]:
    from cryptography.fernet import Fernet

    value = _setting("GATEWAY_ENCRYPTION_KEYS")
    keys = value.split(",") if isinstance(value, str) else value
    if keys is None:
        return []
    if not isinstance(keys, list | tuple) or not all(isinstance(key, str) for key in keys):
        bad = True
    else:
        bad = False
        for key in (key.strip() for key in keys if key.strip()):
            try:
                Fernet(key.encode())
            except ValueError:
                bad = True
    if not bad:
        return []
    return [
        Error(
            "GATEWAY_ENCRYPTION_KEYS must be Fernet keys (32 url-safe base64-encoded bytes), comma-separated.",
            hint='Make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"',
            id="streaming.E008",
        )
    ]


@register(Tags.security, deploy=True)
def check_deployment(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """What production needs beyond a working development setup."""
    errors: list[CheckMessage] = []
    if not _setting("GATEWAY_ENCRYPTION_KEYS"):
        errors.append(
            Warning(
                "GATEWAY_ENCRYPTION_KEYS is not set: upstream keys are encrypted with a key derived from "
                "SECRET_KEY, so changing SECRET_KEY makes them unreadable.",
                hint="Set GATEWAY_ENCRYPTION_KEYS to a Fernet key of its own, then run "
                "manage.py rotate_encryption_keys.",
                id="streaming.W003",
            )
        )
    if not several_workers():  # else check_settings already said so
        errors += _check_cache_is_shared(
            "production usually runs more than one worker, or host",
            silence=' A deployment of one worker process on one host may add "streaming.W004" to '
            "SILENCED_SYSTEM_CHECKS.",
        )
    return errors
