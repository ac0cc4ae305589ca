"""Client authentication: parse the key from the headers, then look up its hash in the registry.

Keys come as ``x-api-key: <key>`` (what the SDKs send with ``api_key``) or ``Authorization: Bearer <key>``
(``auth_token`` / ``ANTHROPIC_AUTH_TOKEN``); ``x-api-key`` wins when both are present. Verified keys are
remembered by the registry until the configuration changes, so the hot path rarely touches the
database; an expired key is refused on the very next request.

Guessing is expensive for the guesser, not the gateway: unknown key hashes are remembered (the
registry's negative cache), and a client address with more than ``GATEWAY_AUTH_FAILURES_PER_MINUTE``
failed authentications in a clock minute gets 429 for the rest of it without any lookup. Behind a
proxy the address is the client's only when the server is told to trust the proxy's
``X-Forwarded-For`` (uvicorn ``--forwarded-allow-ips``, ``docs/deploy.md``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping

from streaming.conf import gateway_settings
from streaming.control.client_keys import hash_client_key
from streaming.control.counters import counters
from streaming.control.registry import ClientIdentity, registry
from streaming.errors import AuthenticationError, OverloadedError, PermissionDeniedError, RateLimitError

_MAX_KEY_LENGTH = 256


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


def _failures_key(address: str) -> str:
    return f"streaming:authfail:{address}:{int(time.time() // 60)}"


async def _refuse_if_failing(address: str | None) -> None:
    """429 when ``address`` failed to authenticate too often this minute (checked before any lookup;
    skipped while the shared cache is down: the key cache still spares the database)."""
    if not address:
        return
    try:
        failures = await counters().get(_failures_key(address))
    except OverloadedError:
        return
    if failures >= gateway_settings.AUTH_FAILURES_PER_MINUTE:
        raise RateLimitError(
            "Too many failed authentications from this address; try again in a minute.",
            headers={"retry-after": str(max(1, 60 - int(time.time() % 60)))},
            cause="failed_auth",
        )


async def _count_failure(address: str | None) -> None:
    if address:
        with contextlib.suppress(OverloadedError):  # the shared cache is down: the 401 still goes out
            await counters().incr(_failures_key(address), 120)


async def authenticate(headers: Mapping[str, str], address: str | None = None) -> ClientIdentity:
    """The client key the request carries (from ``address``); raises AuthenticationError otherwise."""
    try:
        key = extract_client_key(headers)
    except AuthenticationError:
        await _count_failure(address)
        raise
    key_hash = hash_client_key(key, gateway_settings.SIGNING_KEY)
    identity = await registry.identity(key_hash, before_lookup=lambda: _refuse_if_failing(address))
    if identity is None or identity.expired():
        await _count_failure(address)
        raise AuthenticationError("invalid x-api-key")
    return identity


def check_model_allowed(identity: ClientIdentity, model: str) -> None:
    """403 ``permission_error`` when the key's ``allowed_models`` do not include ``model``."""
    if not identity.allows(model):
        raise PermissionDeniedError(f"This API key may not use the model {model!r}.")
