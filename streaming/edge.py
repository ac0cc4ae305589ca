"""The view edge: one place that turns every failure into Anthropic's error envelope.

``api_view`` wraps each async API view: it enforces the allowed methods (405), stamps ``request-id``
(and ``X-Correlation-ID`` when no django-guid middleware did) on every response, maps upstream failures
to client errors, and answers ``api_error`` for anything unexpected after logging it — so no request
ends in a bare 500 page, a traceback or a leaked key.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django_guid import get_guid

from streaming.errors import (
    GatewayError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    UpstreamError,
    envelope,
)
from streaming.translate.errors import error_for_status, error_for_transport
from streaming.transport import (
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
)

logger = logging.getLogger("streaming")

AsyncView = Callable[..., Coroutine[Any, Any, HttpResponseBase]]
R = TypeVar("R", bound=HttpResponseBase)


def request_id() -> str:
    """Anthropic-style request id, derived from the correlation id so logs and clients agree."""
    guid = get_guid()
    return "req_" + (guid.replace("-", "") if guid else uuid.uuid4().hex)


# Anthropic's own status, unknown to http.HTTPStatus (Django would say "Unknown Status Code").
_REASONS = {529: "Overloaded"}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """Compact UTF-8 JSON, as Anthropic's API answers (ASCII escapes if the upstream sent lone surrogates)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    try:
        encoded = body.encode()
    except UnicodeEncodeError:
        encoded = json.dumps(data, separators=(",", ":")).encode()
    return HttpResponse(
        encoded, status=status, reason=_REASONS.get(status), headers=headers, content_type="application/json"
    )


def error_response(error: GatewayError) -> HttpResponse:
    headers = dict(error.headers)
    return json_response(envelope(error, request_id()), status=error.status, headers=headers)


def to_gateway_error(exc: BaseException) -> GatewayError:
    """Map any exception raised below a view to the error the client sees."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, UpstreamPoolFull):
        logger.warning("%s: answering 529; raise GATEWAY_MAX_CONNECTIONS or add workers", exc)
        return error_for_transport("pool")
    if isinstance(exc, UpstreamConnectError):
        return error_for_transport("connect")
    if isinstance(exc, UpstreamTimeoutError):
        return error_for_transport("timeout")
    if isinstance(exc, UpstreamStreamError):
        return error_for_transport("stream")
    if isinstance(exc, OpenAIUpstreamError):
        logger.warning("upstream answered HTTP %s: %s", exc.status_code, exc.payload)
        error = exc.payload.get("error") if isinstance(exc.payload, dict) else None
        return error_for_status(
            exc.status_code or 502, error if isinstance(error, dict) else None, exc.headers
        )
    if isinstance(exc, UnencodablePayload):
        return InvalidRequestError(f"The request cannot be forwarded upstream: {exc}")
    if isinstance(exc, UpstreamNotConfigured):
        logger.error("gateway misconfigured: %s", exc)
        return UpstreamError(
            "The gateway has no upstream API key configured (OPENAI_API_KEY).",
            headers={"x-should-retry": "false"},
        )
    logger.exception("unexpected error while handling the request")
    return GatewayError("Internal server error.")


def stamp(response: R) -> R:
    """Every API response carries a request id and the correlation id."""
    response["request-id"] = request_id()
    guid = get_guid()
    if guid and not response.has_header("X-Correlation-ID"):
        response["X-Correlation-ID"] = guid
    return response


def api_view(*methods: str) -> Callable[[AsyncView], AsyncView]:
    """Decorate an async API view: allowed methods, envelope errors, request ids; CSRF-exempt (key auth)."""
    allowed = frozenset(methods)

    def decorator(view: AsyncView) -> AsyncView:
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            try:
                request.get_host()  # ALLOWED_HOSTS: no CommonMiddleware on the API path checks it for us
            except DisallowedHost:
                return stamp(error_response(InvalidRequestError("Invalid Host header.")))
            if request.method not in allowed:
                error = MethodNotAllowedError(f"Method {request.method} is not allowed for this endpoint.")
                error.headers["Allow"] = ", ".join(sorted(allowed))
                return stamp(error_response(error))
            try:
                response = await view(request, *args, **kwargs)
            except Exception as exc:
                response = error_response(to_gateway_error(exc))
            return stamp(response)

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


def bad_request_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return stamp(error_response(InvalidRequestError("Bad request.")))


def not_found_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return stamp(error_response(NotFoundError(f"Not found: {request.path}")))


def server_error_handler(request: HttpRequest) -> HttpResponse:
    return stamp(error_response(GatewayError()))
