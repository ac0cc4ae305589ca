"""Upstream (OpenAI Responses API) failures, each carrying a payload that is safe to show a client.

    OpenAIUpstreamError            the upstream answered with an error status (or an unusable body)
     ├── UpstreamConnectError      connection refused, DNS, TLS: no answer at all (status_code None)
     ├── UpstreamTimeoutError      connect / read / write / pool timeout (status_code None)
     │    └── UpstreamPoolFull     the pool timeout: every upstream connection of this worker stayed busy,
     │                             the gateway is at capacity and the upstream did nothing wrong
     └── UpstreamStreamError       the connection broke mid-body, or the event stream was cut mid-event
    UpstreamNotConfigured          no OPENAI_API_KEY (also an ImproperlyConfigured)
    UnencodablePayload             the request cannot be written as strict JSON (a ValueError; a client fault)

Every error has ``status_code`` (the upstream's HTTP status, ``None`` when there was none), ``payload``
(``{"error": {...}}`` built from an allow-list of the upstream's error fields — message, type, code,
param — after ``streaming.redaction.redact``, else a short placeholder), ``headers`` (only retry hints and the upstream
request id) and an ``error_type`` label. Never request headers, never the key (protocol.md C.7).
``streaming.api.decorators`` maps these to the client-facing tree in ``streaming/errors.py``. Pure: no httpx.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from streaming.redaction import redact

__all__ = [
    "KEPT_HEADERS",
    "OpenAIUpstreamError",
    "UnencodablePayload",
    "UpstreamConnectError",
    "UpstreamNotConfigured",
    "UpstreamPoolFull",
    "UpstreamStreamError",
    "UpstreamTimeoutError",
    "safe_error_payload",
    "upstream_error_from_response",
]

KEPT_HEADERS = ("retry-after", "retry-after-ms", "x-request-id")
"""Upstream response headers worth keeping: retry hints (forwarded on 429) and the id for logs."""

_ERROR_FIELDS = ("message", "type", "code", "param")
_MAX_FIELD = 2000  # each kept field, after redaction


def placeholder_payload(message: str, error_type: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type}}


def safe_error_payload(
    status_code: int | None,
    body: bytes,
    secrets: Iterable[str | None] = (),
    *,
    error_type: str = "upstream_error",
) -> dict[str, Any]:
    """``{"error": {...}}`` from the upstream body's ``error`` object (allow-listed, redacted), else a placeholder.

    Accepts OpenAI's ``{"error": {"message", "type", "code", "param"}}`` and the ``{"error": "text"}``
    some compatible servers send; anything else (HTML, plain text, other JSON) becomes the placeholder.
    """
    secrets = tuple(secrets)
    fallback = f"upstream returned HTTP {status_code}" if status_code else "upstream error"
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return placeholder_payload(fallback, error_type)
    upstream = document.get("error") if isinstance(document, dict) else None
    if isinstance(upstream, str):
        upstream = {"message": upstream}
    if not isinstance(upstream, dict):
        return placeholder_payload(fallback, error_type)
    error: dict[str, Any] = {}
    for name in _ERROR_FIELDS:
        if name not in upstream:
            continue
        value = upstream[name]
        if isinstance(value, str):
            error[name] = redact(value, secrets)[:_MAX_FIELD]
        elif value is None or (isinstance(value, int) and not isinstance(value, bool)):
            error[name] = value
    if not error.get("message"):
        error["message"] = fallback
    if not error.get("type"):
        error["type"] = error_type
    return {"error": error}


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Only ``KEPT_HEADERS``, lower-cased names (works with httpx.Headers and plain dicts)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    return {name: lowered[name] for name in KEPT_HEADERS if name in lowered}


class OpenAIUpstreamError(Exception):
    """The upstream failed; ``payload`` and ``str(self)`` are safe to show, the key is never in them."""

    error_type = "upstream_error"
    default_message = "upstream error"

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        payload: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status_code = status_code
        self.payload: dict[str, Any] = payload or placeholder_payload(
            message or self.default_message, self.error_type
        )
        self.headers: dict[str, str] = kept_headers(headers or {})
        super().__init__(message or self.message)

    @property
    def message(self) -> str:
        return str(self.payload["error"].get("message") or self.default_message)

    @property
    def code(self) -> str | None:
        """The upstream's ``error.code`` (e.g. ``insufficient_quota``), when it sent one."""
        code = self.payload["error"].get("code")
        return None if code is None else str(code)

    @property
    def upstream_type(self) -> str | None:
        """The upstream's ``error.type`` (a placeholder's own label otherwise)."""
        value = self.payload["error"].get("type")
        return None if value is None else str(value)

    def __str__(self) -> str:
        status = f"HTTP {self.status_code}" if self.status_code is not None else self.error_type
        return f"{status}: {self.message}"


class UpstreamConnectError(OpenAIUpstreamError):
    error_type = "upstream_unreachable"
    default_message = "upstream unreachable"


class UpstreamTimeoutError(OpenAIUpstreamError):
    error_type = "upstream_timeout"
    default_message = "upstream timed out"
    phase = "request"  # connect, read, write, pool (waiting for a pooled connection) or request


class UpstreamPoolFull(UpstreamTimeoutError):
    error_type = "upstream_pool_full"
    default_message = "every upstream connection is busy"
    phase = "pool"


class UpstreamStreamError(OpenAIUpstreamError):
    error_type = "upstream_stream_error"
    default_message = "upstream connection broke mid-response"


class UnencodablePayload(ValueError):
    """The payload has no strict-JSON form (lone surrogates, non-finite numbers, absurd nesting)."""


class UpstreamNotConfigured(ImproperlyConfigured):
    """The gateway has no upstream key; the API edge answers with an Anthropic-envelope error."""


def upstream_error_from_response(
    status_code: int, body: bytes, headers: Mapping[str, str], *, secrets: Iterable[str | None] = ()
) -> OpenAIUpstreamError:
    """The error for an upstream error status: safe payload + kept headers (raise it)."""
    payload = safe_error_payload(status_code, body, secrets)
    return OpenAIUpstreamError(
        f"upstream returned HTTP {status_code}", status_code=status_code, payload=payload, headers=headers
    )
