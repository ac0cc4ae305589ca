"""Thinking-block signatures that carry an upstream reasoning item across stateless turns.

``oairs1.<payload>.<mac>``: payload is base64url (no padding) of
``{"v":1,"id":<rs id>,"encrypted_content":<ec>,"m":<upstream model>}`` (protocol.md C.4; ``m`` added so
reasoning minted by one upstream model is not replayed to another, which rejects content it cannot
decrypt), mac is a truncated HMAC-SHA256 of the prefix and payload under the gateway's signing key. A signature the gateway did not mint (a real
Claude signature, a tampered one) fails to open and the block is dropped, never forwarded.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import NamedTuple

PREFIX = "oairs1."
_MAC_BYTES = 16
_SALT = b"streaming.thinking-signature.v1"


class ReasoningRef(NamedTuple):
    """What a signature carries: the reasoning item's id and its opaque encrypted content."""

    item_id: str
    encrypted_content: str


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, signed: str) -> str:
    key = hashlib.sha256(_SALT + secret.encode()).digest()
    return _b64encode(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest()[:_MAC_BYTES])


def mint_signature(item_id: str, encrypted_content: str, secret: str, *, model: str | None = None) -> str:
    """Seal a reasoning item into a thinking signature (deterministic: same input, same bytes)."""
    data: dict[str, object] = {"v": 1, "id": item_id, "encrypted_content": encrypted_content}
    if model:
        data["m"] = model
    try:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate (upstream junk) has no UTF-8: \u-escape it instead
        payload = json.dumps(data, separators=(",", ":")).encode("ascii")
    signed = PREFIX + _b64encode(payload)
    return f"{signed}.{_mac(secret, signed)}"


def open_signature(signature: object, secret: str, *, model: str | None = None) -> ReasoningRef | None:
    """The reasoning item behind a signature, or None when the gateway did not mint it.

    With ``model``, also None when the signature was minted for another upstream model.
    """
    if not isinstance(signature, str) or not signature.isascii() or not signature.startswith(PREFIX):
        return None  # the gateway mints ASCII only; the MAC check below cannot compare anything else
    signed, _, mac = signature.rpartition(".")
    if not signed.startswith(PREFIX) or not hmac.compare_digest(mac, _mac(secret, signed)):
        return None
    try:
        data = json.loads(_b64decode(signed[len(PREFIX) :]))
    except (binascii.Error, ValueError):
        return None
    if not isinstance(data, dict) or data.get("v") != 1:
        return None
    item_id, content = data.get("id"), data.get("encrypted_content")
    if not isinstance(item_id, str) or not isinstance(content, str):
        return None
    if model is not None and data.get("m", model) != model:
        return None
    return ReasoningRef(item_id, content)
