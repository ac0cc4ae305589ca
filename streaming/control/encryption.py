"""Upstream keys at rest: Fernet encryption under ``GATEWAY_ENCRYPTION_KEYS`` (several, for rotation).

The first key encrypts; every key decrypts (``MultiFernet``), so rotating is: put a new key first, run
``manage.py rotate_encryption_keys`` (re-encrypts every stored secret under it), then drop the old key.
Without the setting, one key is derived from ``SECRET_KEY``: a fresh install works with no
configuration, and ``manage.py check --deploy`` warns (``streaming.W003``) that changing ``SECRET_KEY``
would then make the stored upstream keys unreadable.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from streaming.conf import gateway_settings

__all__ = ["DecryptionError", "decrypt", "derived_key", "encrypt", "encryption_keys", "rotate"]

_SALT = b"streaming.upstream-secrets.v1"


class DecryptionError(ImproperlyConfigured):
    """A stored secret cannot be read with any configured key (the keys changed without rotation)."""


def derived_key(secret: str) -> str:
    """The Fernet key derived from ``secret`` (``SECRET_KEY``) when no encryption keys are configured."""
    return base64.urlsafe_b64encode(hashlib.sha256(_SALT + secret.encode()).digest()).decode()


def encryption_keys() -> tuple[str, ...]:
    """The configured keys, first one encrypting; the ``SECRET_KEY``-derived key when none are."""
    return gateway_settings.ENCRYPTION_KEYS or (derived_key(settings.SECRET_KEY),)


@functools.lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def encrypt(plaintext: str) -> str:
    return _fernet(encryption_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(encryption_keys()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored upstream key cannot be decrypted with GATEWAY_ENCRYPTION_KEYS (or, without it, "
            "SECRET_KEY): the key it was encrypted with is gone. Put that key back (after the new one) "
            "or enter the upstream key again in the admin."
        ) from None


def rotate(token: str) -> str:
    """``token`` re-encrypted under the first key (readable with any configured key)."""
    try:
        return _fernet(encryption_keys()).rotate(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError("A stored upstream key cannot be decrypted with any configured key.") from None
