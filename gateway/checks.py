"""The project's own system checks (ids ``gateway.W0xx``, stable forever); the app's are ``streaming.checks``.

``gateway/settings.py`` generates a ``SECRET_KEY`` when the environment has none, so a fresh install runs
with DEBUG off. Django's ``security.W009`` judges only the key's strength, and a generated key is strong:
what production must hear is that every host generates a different one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_secret_key_is_explicit(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """Client keys are hashed, thinking signatures signed and (without GATEWAY_ENCRYPTION_KEYS) upstream keys
    encrypted with SECRET_KEY: a key of one host's own makes them fail on every other host."""
    path = getattr(settings, "GENERATED_SECRET_KEY_FILE", None)
    if path is None:
        return []
    return [
        Warning(
            f"SECRET_KEY was generated on this host and is kept in {path}: another host, or this one after "
            "losing that file, generates a different key, and client keys, thinking signatures and upstream "
            "keys encrypted without GATEWAY_ENCRYPTION_KEYS stop working there.",
            hint="Set SECRET_KEY in the environment, the same for every worker and host. To keep the client "
            f"keys issued so far, use the generated key's value (in {path}).",
            id="gateway.W001",
        )
    ]
