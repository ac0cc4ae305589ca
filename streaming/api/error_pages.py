"""Django's error handlers (``handler400/404/500``) answering in Anthropic's envelope.

Errors outside the API views (unknown paths, bad Host headers, crashes) reach these; a project that
serves only the gateway points its ``handler*`` at them (``gateway/urls.py`` does).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from streaming.api.responses import error_response, stamp
from streaming.errors import GatewayError, InvalidRequestError, NotFoundError


def bad_request_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return stamp(error_response(InvalidRequestError("Bad request.")))


def not_found_handler(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return stamp(error_response(NotFoundError(f"Not found: {request.path}")))


def server_error_handler(request: HttpRequest) -> HttpResponse:
    return stamp(error_response(GatewayError()))
