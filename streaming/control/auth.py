"""Client authentication: parse the key from the headers, then look up its hash in the registry.

Keys come as ``x-api-key: <key>`` (what the SDKs send with ``api_key``) or ``Authorization: Bearer <key>``
(``auth_token`` / ``ANTHROPIC_AUTH_TOKEN``); ``x-api-key`` wins when both are present. Verified keys are
remembered by the registry until the configuration changes, so the hot path rarely touches the
database; an expired key is refused on the very next request.
"""

from __future__ import annotations

from collections.abc import Mapping

from streaming.conf import gateway_settings
from streaming.control.client_keys import hash_client_key
from streaming.control.registry import ClientIdentity, registry
from streaming.errors import AuthenticationError, PermissionDeniedError

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


async def authenticate(headers: Mapping[str, str]) -> ClientIdentity:
    """The client key the request carries; raises AuthenticationError otherwise."""
    key_hash = hash_client_key(extract_client_key(headers), gateway_settings.SIGNING_KEY)
    identity = await registry.identity(key_hash)
    if identity is None or identity.expired():
        raise AuthenticationError("invalid x-api-key")
    return identity


def check_model_allowed(identity: ClientIdentity, model: str) -> None:
    """403 ``permission_error`` when the key's ``allowed_models`` do not include ``model``."""
    if not identity.allows(model):
        raise PermissionDeniedError(f"This API key may not use the model {model!r}.")
