"""System checks for the gateway's settings (ids ``streaming.E0xx`` / ``streaming.W0xx``, stable forever).

They tell an operator, or a host site that installs the app, what is misconfigured before the first
request fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from streaming.conf import DEFAULTS

_POSITIVE_NUMBERS = (
    "GATEWAY_CONNECT_TIMEOUT",
    "GATEWAY_READ_TIMEOUT",
    "GATEWAY_WRITE_TIMEOUT",
    "GATEWAY_MAX_CONNECTIONS",
    "GATEWAY_MAX_KEEPALIVE_CONNECTIONS",
    "GATEWAY_KEEPALIVE_EXPIRY",
    "GATEWAY_MAX_BODY_BYTES",
    "GATEWAY_PING_INTERVAL",
)
_COUNT_MODES = ("auto", "upstream", "local")
MAX_POOL_TIMEOUT = 2.0
"""Longest a request may queue for an upstream connection (issue 9): past it, 529 beats waiting."""


def _setting(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


@register(Tags.compatibility)
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: Any) -> list[CheckMessage]:
    from streaming.routing import parse_model_map, parse_model_profiles

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
    for name in _POSITIVE_NUMBERS:
        value = _setting(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            errors.append(
                Error(
                    f"{name} must be a positive number.",
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
                id="streaming.E007",
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
                "OPENAI_API_KEY is not set: every API request will fail until it is.",
                hint="Export OPENAI_API_KEY before starting the gateway.",
                id="streaming.W001",
            )
        )
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
    return errors
