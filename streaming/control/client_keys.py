"""Client-key generation and hashing.

Client keys are random 256-bit tokens, so a fast keyed hash (HMAC-SHA256 under the gateway's signing
key) is the right storage: no salt or slow KDF is needed against guessing, and lookups stay O(1).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets

CLIENT_KEY_PREFIX = "gwk_"
_SALT = b"streaming.client-key.v1"


def generate_client_key() -> str:
    """A new client key: a recognisable prefix plus 256 random bits."""
    return CLIENT_KEY_PREFIX + secrets.token_urlsafe(32)


@functools.lru_cache(maxsize=4)
def _mac_key(secret: str) -> bytes:
    return hashlib.sha256(_SALT + secret.encode()).digest()


def hash_client_key(key: str, secret: str) -> str:
    """The stored form of a client key (hex HMAC-SHA256); the key itself is never stored."""
    return hmac.new(_mac_key(secret), key.encode(), hashlib.sha256).hexdigest()


def display_prefix(key: str) -> str:
    """Enough of a key to recognise it in a list, not enough to use it."""
    return key[: len(CLIENT_KEY_PREFIX) + 6]
