"""``api_view``: what every API view shares, so no request ends in a bare 500, a traceback or a leaked key.

It enforces ``ALLOWED_HOSTS`` and the allowed methods (405), turns any exception into Anthropic's
envelope through the one error map (``streaming.error_map.client_error``), and stamps ``request-id``
(and ``X-Correlation-ID`` when no django-guid middleware did) on every response. It creates the
request's ``Outcome``, passes it to the view as ``outcome``, and completes it, except for an event stream,
whose relay completes it when the stream ends.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase
from django_guid import get_guid

from streaming.api import draining
from streaming.api.relay import EventStreamResponse
from streaming.api.responses import error_response, stamp
from streaming.error_map import client_error, failure_cause
from streaming.errors import GatewayError, InvalidRequestError, MethodNotAllowedError
from streaming.outcome import Outcome

AsyncView = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


def api_view(*methods: str) -> Callable[[AsyncView], AsyncView]:
    """Decorate an async API view: allowed methods, envelope errors, request ids; CSRF-exempt (key auth)."""
    allowed = frozenset(methods)

    def decorator(view: AsyncView) -> AsyncView:
        endpoint = view.__name__

        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            outcome = Outcome(endpoint, correlation_id=get_guid())
            try:
                try:
                    request.get_host()  # ALLOWED_HOSTS: no CommonMiddleware on the API path checks it
                except DisallowedHost:
                    raise InvalidRequestError("Invalid Host header.") from None
                if request.method not in allowed:
                    raise MethodNotAllowedError(
                        f"Method {request.method} is not allowed for this endpoint.",
                        headers={"Allow": ", ".join(sorted(allowed))},
                    )
                async with draining.bounded_wait():
                    response = await view(request, outcome, *args, **kwargs)
            except Exception as exc:
                error: GatewayError = client_error(exc)
                outcome.fail(error.status, error.error_type, failure_cause(exc))
                response = error_response(error)
            if not isinstance(response, EventStreamResponse):
                outcome.complete(response.status_code)
            # The request log (streaming.observability) has this request's line: Django's own per-4xx/5xx
            # line would be a second one (and a flood of wrong keys would be a flood of lines).
            response._has_been_logged = True  # type: ignore[attr-defined]
            return stamp(response)

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapper

    return decorator


def operator_view(*methods: str) -> Callable[[AsyncView], AsyncView]:
    """For the operator's endpoints (``/healthz``, ``/metrics``): allowed methods (405 in the envelope) and
    request ids, but no outcome, so no usage record, request log line or metric for each probe or scrape."""
    allowed = frozenset(methods)

    def decorator(view: AsyncView) -> AsyncView:
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in allowed:
                error = MethodNotAllowedError(
                    f"Method {request.method} is not allowed for this endpoint.",
                    headers={"Allow": ", ".join(sorted(allowed))},
                )
                return stamp(error_response(error))
            return stamp(await view(request, *args, **kwargs))

        wrapper.csrf_exempt = True  # type: ignore[attr-defined]
        return wrapper

    return decorator
