"""Client-facing errors, in Anthropic's envelope (protocol.md A.7).

    GatewayError (status, error_type)            500 api_error
     ├── InvalidRequestError                     400 invalid_request_error
     ├── AuthenticationError                     401 authentication_error
     ├── BillingError                            402 billing_error
     ├── PermissionDeniedError                   403 permission_error
     ├── NotFoundError                           404 not_found_error
     ├── MethodNotAllowedError                   405 invalid_request_error
     ├── RequestTimeoutError                     408 timeout_error
     ├── RequestTooLargeError                    413 request_too_large
     ├── RateLimitError                          429 rate_limit_error
     ├── BadGatewayError                           502 api_error
     ├── GatewayTimeoutError                     504 timeout_error
     └── OverloadedError                         529 overloaded_error

Pure: builds dicts, no Django. ``streaming.api.decorators`` turns these into responses; the stream translator
turns them into ``event: error`` frames.
"""

from __future__ import annotations

from typing import Any


class GatewayError(Exception):
    """An error the client sees: HTTP status, Anthropic ``error.type``, a safe message, extra headers."""

    status = 500
    error_type = "api_error"
    default_message = "Internal server error."

    def __init__(
        self, message: str | None = None, *, headers: dict[str, str] | None = None, cause: str | None = None
    ) -> None:
        self.message = message or self.default_message
        self.headers: dict[str, str] = dict(headers or {})
        # A label for logs and metrics when ``error_type`` says too little (which limit refused the request).
        self.cause = cause
        super().__init__(self.message)


class InvalidRequestError(GatewayError):
    status = 400
    error_type = "invalid_request_error"
    default_message = "Invalid request."


class AuthenticationError(GatewayError):
    status = 401
    error_type = "authentication_error"
    default_message = "invalid x-api-key"


class BillingError(GatewayError):
    status = 402
    error_type = "billing_error"
    default_message = "The upstream account has no credit left."


class PermissionDeniedError(GatewayError):
    status = 403
    error_type = "permission_error"
    default_message = "Permission denied."


class NotFoundError(GatewayError):
    status = 404
    error_type = "not_found_error"
    default_message = "Not found."


class MethodNotAllowedError(GatewayError):
    status = 405
    error_type = "invalid_request_error"
    default_message = "Method not allowed."


class RequestTimeoutError(GatewayError):
    """The client's request body stopped arriving (the SDKs retry 408)."""

    status = 408
    error_type = "timeout_error"
    default_message = "The request body did not arrive in time."


class RequestTooLargeError(GatewayError):
    status = 413
    error_type = "request_too_large"
    default_message = "Request exceeds the maximum allowed number of bytes."


class RateLimitError(GatewayError):
    status = 429
    error_type = "rate_limit_error"
    default_message = "Rate limited."


class BadGatewayError(GatewayError):
    status = 502
    error_type = "api_error"
    default_message = "The upstream returned an error."


class GatewayTimeoutError(GatewayError):
    status = 504
    error_type = "timeout_error"
    default_message = "The upstream did not answer in time."


class OverloadedError(GatewayError):
    status = 529
    error_type = "overloaded_error"
    default_message = "Overloaded"


def envelope(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    """The Anthropic error envelope for ``error``."""
    body: dict[str, Any] = {"type": "error", "error": {"type": error.error_type, "message": error.message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body
