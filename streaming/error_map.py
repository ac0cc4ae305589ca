"""The one map from any failure to the error the client sees (protocol.md C.7). Pure.

``client_error(exc)`` takes any exception raised while handling a request and returns the
``streaming.errors.GatewayError`` to answer with: the gateway's own errors as they are, the transport's
``OpenAIUpstreamError`` tree by class (no answer at all: connect failure, timeout, dropped stream) or by
the upstream's HTTP status and error code (``error_for_status``), a payload that cannot be forwarded as
a 400, a missing upstream key as a 502, anything else as a logged ``api_error``. The stream translator
uses ``error_for_event`` for a ``response.failed`` / ``error`` event after the client stream began.

Only the upstream ``message`` text reaches the client (an allow-list of one field), after
``streaming.redaction.redact`` (the given secrets, keys, org/project and request ids, a length cap):
never upstream headers, URLs, keys or tracebacks.

Decisions: upstream 401/403 mean the *gateway's* upstream key was refused, so the client gets 502
``api_error`` with ``x-should-retry: false`` (401 ``authentication_error`` is reserved for a bad client
key); an unreachable upstream is 529 ``overloaded_error`` (the SDKs retry it) and a timeout 504
``timeout_error``; a full connection pool (the gateway's own capacity, after a short queue bounded by
``GATEWAY_POOL_TIMEOUT``) is 529 ``overloaded_error`` too, never a 504 blaming the upstream; quota
exhaustion is 402 ``billing_error``, not a retryable 429; 409 is ``api_error`` (Anthropic has no
conflict type).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from streaming.errors import (
    BadGatewayError,
    BillingError,
    GatewayError,
    GatewayTimeoutError,
    InvalidRequestError,
    NotFoundError,
    OverloadedError,
    RateLimitError,
    RequestTooLargeError,
)
from streaming.redaction import redact
from streaming.transport.errors import (
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
)

logger = logging.getLogger("streaming")

NO_RETRY = {"x-should-retry": "false"}
_RETRY_HEADERS = ("retry-after", "retry-after-ms")

# Upstream error ``code``/``type`` values, checked code first (C.7, B.3, B.4).
_RATE_LIMIT = frozenset(
    {"rate_limit_exceeded", "too_many_requests", "rate_limit_error", "tokens", "requests"}
)
_BILLING = frozenset({"insufficient_quota", "credit_balance_exhausted", "billing_hard_limit_reached"})
_OVERLOADED = frozenset({"server_is_overloaded", "slow_down", "overloaded_error", "engine_overloaded"})
_INVALID = frozenset(
    {
        "invalid_prompt",
        "context_length_exceeded",
        "invalid_request_error",
        "invalid_base64_image",
        "unsupported_image_media_type",
        "empty_image_file",
        "failed_to_download_image",
        "bio_policy",
    }
)
_INVALID_PREFIXES = ("invalid_image", "image_")


def _message(error: Mapping[str, object] | None, secrets: Iterable[str | None] = ()) -> str | None:
    message = error.get("message") if error else None
    return redact(message, secrets) if isinstance(message, str) and message.strip() else None


def _codes(error: Mapping[str, object] | None) -> list[str]:
    if not error:
        return []
    return [v for v in (error.get("code"), error.get("type")) if isinstance(v, str)]


def _classify(codes: list[str]) -> type[GatewayError] | None:
    """The error class named by the first recognised code/type, or None."""
    for code in codes:
        if code in _RATE_LIMIT:
            return RateLimitError
        if code in _BILLING:
            return BillingError
        if code in _OVERLOADED:
            return OverloadedError
        if code in _INVALID or code.startswith(_INVALID_PREFIXES):
            return InvalidRequestError
    return None


def _retry_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = {k.lower(): v for k, v in headers.items()}
    return {name: lowered[name] for name in _RETRY_HEADERS if name in lowered}


def error_for_status(
    status: int, error: Mapping[str, object] | None, headers: Mapping[str, str]
) -> GatewayError:
    """The client error for an upstream HTTP error answered before any stream began."""
    message = _message(error)
    kind = _classify(_codes(error))
    if status in (401, 403):
        return BadGatewayError(
            f"The upstream rejected the gateway's credentials (HTTP {status}). This is a gateway "
            "configuration problem, not a problem with your API key.",
            headers=NO_RETRY,
        )
    if kind is BillingError:
        return BillingError(message, headers=NO_RETRY)
    if status == 429:
        if kind is OverloadedError:
            return OverloadedError(message, headers=_retry_headers(headers))
        return RateLimitError(message, headers=_retry_headers(headers))
    if status == 404:
        return NotFoundError(message)
    if status in (408, 504):
        return GatewayTimeoutError(message)
    if status == 413:
        return RequestTooLargeError(message)
    if status == 409:
        return BadGatewayError(message)
    if 400 <= status < 500:
        return InvalidRequestError(message)
    if status == 503 or kind is OverloadedError:
        return OverloadedError(message, headers=_retry_headers(headers))
    return BadGatewayError(message)


def event_error_fields(data: Mapping[str, object]) -> dict[str, object]:
    """The fields of an upstream ``error`` event: nested under ``error`` (live API) first, flat (docs) second."""
    nested = data.get("error")
    inner: Mapping[str, object] = nested if isinstance(nested, Mapping) else {}
    fields: dict[str, object] = {}
    for name in ("type", "code", "message", "param"):
        value = inner.get(name)
        if value is None and name != "type":  # the flat event's own ``type`` is just "error"
            value = data.get(name)
        if value is not None:
            fields[name] = value
    return fields


def error_for_event(error: Mapping[str, object], *, secrets: Iterable[str | None] = ()) -> GatewayError:
    """The client error for a mid-stream failure (``response.failed``'s ``error``, an ``error`` event's fields).

    ``secrets`` (the upstream key) are redacted from the message: unlike an HTTP error body, an event
    reaches here without passing the transport's redaction.
    """
    kind = _classify(_codes(error)) or BadGatewayError
    return kind(_message(error, secrets))


def client_error(exc: BaseException) -> GatewayError:
    """The error the client sees for any exception raised while handling its request."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, UpstreamPoolFull):
        logger.warning("%s: answering 529; raise GATEWAY_MAX_CONNECTIONS or add workers", exc)
        return OverloadedError(
            "The gateway is at capacity: every upstream connection is busy. Retry shortly.",
            headers={"x-should-retry": "true"},
        )
    if isinstance(exc, UpstreamConnectError):
        return OverloadedError("The upstream is unreachable.")
    if isinstance(exc, UpstreamTimeoutError):
        return GatewayTimeoutError("The upstream did not answer in time.")
    if isinstance(exc, UpstreamStreamError):
        return BadGatewayError("The upstream connection failed mid-stream.")
    if isinstance(exc, OpenAIUpstreamError):
        logger.warning("upstream answered HTTP %s: %s", exc.status_code, exc.payload)
        error = exc.payload.get("error")
        return error_for_status(
            exc.status_code or 502, error if isinstance(error, dict) else None, exc.headers
        )
    if isinstance(exc, UnencodablePayload):
        return InvalidRequestError(f"The request cannot be forwarded upstream: {exc}")
    if isinstance(exc, UpstreamNotConfigured):
        logger.error("gateway misconfigured: %s", exc)
        return BadGatewayError(
            "The gateway has no upstream API key configured (OPENAI_API_KEY).", headers=dict(NO_RETRY)
        )
    logger.exception("unexpected error while handling the request", exc_info=exc)
    return GatewayError("Internal server error.")


def failure_cause(exc: BaseException) -> str:
    """A short label for why a request failed, for logs and metrics (never a message, never a secret)."""
    if isinstance(exc, UpstreamTimeoutError):
        return f"{exc.phase}_timeout"
    if isinstance(exc, UpstreamConnectError):
        return "connect"
    if isinstance(exc, UpstreamStreamError):
        return "upstream_dropped"
    if isinstance(exc, OpenAIUpstreamError):
        return "upstream_status" if exc.status_code else "upstream_body"
    if isinstance(exc, UpstreamNotConfigured):
        return "not_configured"
    if isinstance(exc, UnencodablePayload):
        return "invalid_request_error"
    if isinstance(exc, GatewayError):
        return exc.cause or exc.error_type
    return "internal"
