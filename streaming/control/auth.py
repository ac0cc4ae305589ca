"""Client authentication: parse the key from the headers, then look up its hash.

Keys come as ``x-api-key: <key>`` (what the SDKs send with ``api_key``) or ``Authorization: Bearer <key>``
(``auth_token`` / ``ANTHROPIC_AUTH_TOKEN``); ``x-api-key`` wins when both are present. Verified keys are
trusted in-process for ``CLIENT_KEY_CACHE_SECONDS`` so the hot path rarely touches the database (a
revoked key stops working within that time).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from streaming.conf import gateway_settings
from streaming.control.client_keys import hash_client_key
from streaming.errors import AuthenticationError

_MAX_KEY_LENGTH = 256
# key hash -> (monotonic expiry, key name)
_verified: dict[str, tuple[float, str]] = {}


def extract_client_key(headers: Mapping[str, str]) -> str:
    """The client's key from the request headers, or an authentication error saying what is wrong."""
    key = headers.get("x-api-key", "").strip()
    if not key:
        authorization = headers.get("authorization", "").strip()
        scheme, _, token = authorization.partition(" ")
        if authorization and scheme.lower() != "bearer":
            raise AuthenticationError("Authorization header must use the Bearer scheme.")
        key = token.strip()
    if not key:
        raise AuthenticationError("Missing API key: send it in the x-api-key header.")
    if len(key) > _MAX_KEY_LENGTH:
        raise AuthenticationError("invalid x-api-key")
    return key


async def authenticate(headers: Mapping[str, str]) -> str:
    """The name of the client key the request carries; raises AuthenticationError otherwise."""
    key_hash = hash_client_key(extract_client_key(headers), gateway_settings.SIGNING_KEY)
    now = time.monotonic()
    cached = _verified.get(key_hash)
    if cached is not None and cached[0] > now:
        return cached[1]
    from streaming.models import ClientKey

    # Looked up by its unique, indexed hash; the final comparison is constant-time all the same.
    row = (
        await ClientKey.objects.filter(key_hash=key_hash, is_active=True)
        .values_list("key_hash", "name")
        .afirst()
    )
    if row is None or not hmac.compare_digest(row[0], key_hash):
        _verified.pop(key_hash, None)
        raise AuthenticationError("invalid x-api-key")
    _verified[key_hash] = (now + gateway_settings.CLIENT_KEY_CACHE_SECONDS, row[1])
    return row[1]


def forget_verified_keys() -> None:
    """Drop the in-process cache (tests; key revocation in this process)."""
    _verified.clear()
