"""Building API responses: compact JSON, the Anthropic error envelope, request and correlation ids."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from django.http import HttpResponse, HttpResponseBase
from django_guid import get_guid

from streaming.errors import GatewayError, envelope
from streaming.json_codec import dumps_ascii_fallback

R = TypeVar("R", bound=HttpResponseBase)

# Anthropic's own status, unknown to http.HTTPStatus (Django would say "Unknown Status Code").
_REASONS = {529: "Overloaded"}


def request_id() -> str:
    """Anthropic-style request id, derived from the correlation id so logs and clients agree."""
    guid = get_guid()
    return "req_" + (guid.replace("-", "") if guid else uuid.uuid4().hex)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """Compact UTF-8 JSON, as Anthropic's API answers (ASCII escapes if the upstream sent lone surrogates)."""
    return HttpResponse(
        dumps_ascii_fallback(data),
        status=status,
        reason=_REASONS.get(status),
        headers=headers,
        content_type="application/json",
    )


def error_response(error: GatewayError) -> HttpResponse:
    """The envelope for ``error``, with its status and headers (``retry-after``, ``x-should-retry``...)."""
    return json_response(envelope(error, request_id()), status=error.status, headers=dict(error.headers))


def stamp(response: R) -> R:
    """Every API response carries a request id and the correlation id."""
    response["request-id"] = request_id()
    guid = get_guid()
    if guid and not response.has_header("X-Correlation-ID"):
        response["X-Correlation-ID"] = guid
    return response
