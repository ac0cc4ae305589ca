"""Upstream keys at rest: encrypted in the database, readable with any configured key, rotated by command."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from streaming.control.encryption import decrypt, derived_key, encrypt
from streaming.models import UnreadableSecret, Upstream

pytestmark = pytest.mark.django_db

SECRET = "sk-live-0123456789abcdefWXYZ"
OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def stored(upstream: Upstream) -> str:
    """The api_key column as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key FROM streaming_upstream WHERE id = %s", [upstream.id])
        value: str = cursor.fetchone()[0]
    return value


def make(**fields: Any) -> Upstream:
    return Upstream.objects.create(**{"name": "openai", "base_url": "https://api.openai.test/v1", **fields})


def test_the_database_holds_only_ciphertext_and_python_sees_the_key() -> None:
    upstream = make(api_key=SECRET)

    assert SECRET not in stored(upstream)
    assert Upstream.objects.get(id=upstream.id).api_key == SECRET
    assert upstream.api_key_hint == "…WXYZ"


def test_an_empty_key_stays_empty() -> None:
    upstream = make(api_key="")

    assert stored(upstream) == ""
    assert upstream.api_key_hint == ""


def test_without_configured_keys_a_key_derived_from_secret_key_is_used(settings: Any) -> None:
    settings.GATEWAY_ENCRYPTION_KEYS = None

    assert Fernet(derived_key(settings.SECRET_KEY).encode()).decrypt(encrypt("x").encode()) == b"x"


def test_any_configured_key_decrypts_and_the_first_encrypts() -> None:
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[OLD]):
        token = encrypt("secret")
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[NEW, OLD]):
        assert decrypt(token) == "secret"
        assert Fernet(NEW.encode()).decrypt(encrypt("secret").encode()) == b"secret"


def test_rotation_re_encrypts_every_key_under_the_first_key() -> None:
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[OLD]):
        upstream = make(api_key=SECRET)
    with override_settings(GATEWAY_ENCRYPTION_KEYS=f"{NEW},{OLD}"):
        out = StringIO()
        call_command("rotate_encryption_keys", stdout=out)
    assert "Re-encrypted 1" in out.getvalue()

    assert Fernet(NEW.encode()).decrypt(stored(upstream).encode()).decode() == SECRET
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[NEW]):
        assert Upstream.objects.get(id=upstream.id).api_key == SECRET


def test_a_key_no_configured_key_decrypts_is_unreadable_but_kept_and_rotation_says_so() -> None:
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[OLD]):
        upstream = make(api_key=SECRET)
        token = stored(upstream)
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[NEW]):
        loaded = Upstream.objects.get(id=upstream.id)
        assert isinstance(loaded.api_key, UnreadableSecret) and loaded.api_key == ""
        loaded.enabled = False
        loaded.save()  # an unrelated change must not destroy the token
        with pytest.raises(CommandError, match="openai"):
            call_command("rotate_encryption_keys", stdout=StringIO())

    assert stored(upstream) == token


def test_the_upstream_value_never_shows_the_key() -> None:
    from streaming.control.registry import upstream_config

    config = upstream_config(make(api_key=SECRET))

    assert config.api_key == SECRET
    assert SECRET not in repr(config) and SECRET not in str(config)
