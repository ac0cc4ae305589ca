"""Any failure -> the client-facing error (protocol.md C.7), through the one error map."""

from __future__ import annotations

from typing import Any

import pytest

from streaming.error_map import (
    client_error,
    error_for_event,
    error_for_status,
    event_error_fields,
    failure_cause,
)
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
from streaming.transport.errors import (
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
)


def err(message: str = "upstream says no", **fields: Any) -> dict[str, Any]:
    return {"message": message, **fields}


@pytest.mark.parametrize(
    ("status", "error", "cls", "client_status", "error_type"),
    [
        (400, err(type="invalid_request_error"), InvalidRequestError, 400, "invalid_request_error"),
        (422, err(), InvalidRequestError, 400, "invalid_request_error"),
        (418, err(), InvalidRequestError, 400, "invalid_request_error"),
        (404, err(code="model_not_found"), NotFoundError, 404, "not_found_error"),
        (408, err(), GatewayTimeoutError, 504, "timeout_error"),
        (504, err(), GatewayTimeoutError, 504, "timeout_error"),
        (409, err(), BadGatewayError, 502, "api_error"),
        (413, err(), RequestTooLargeError, 413, "request_too_large"),
        (429, err(code="rate_limit_exceeded"), RateLimitError, 429, "rate_limit_error"),
        (429, err(type="insufficient_quota", code="insufficient_quota"), BillingError, 402, "billing_error"),
        (
            429,
            err(type="insufficient_quota", code="credit_balance_exhausted"),
            BillingError,
            402,
            "billing_error",
        ),
        (500, err(code="server_error"), BadGatewayError, 502, "api_error"),
        (502, None, BadGatewayError, 502, "api_error"),
        (503, err(), OverloadedError, 529, "overloaded_error"),
        (500, err(code="server_is_overloaded"), OverloadedError, 529, "overloaded_error"),
        (503, err(code="slow_down"), OverloadedError, 529, "overloaded_error"),
        (507, err(), BadGatewayError, 502, "api_error"),
    ],
)
def test_upstream_status_maps_to_the_client_error(
    status: int, error: dict[str, Any] | None, cls: type[GatewayError], client_status: int, error_type: str
) -> None:
    result = error_for_status(status, error, {})

    assert (type(result), result.status, result.error_type) == (cls, client_status, error_type)


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_upstream_credentials_blame_the_gateway_not_the_client_key(status: int) -> None:
    result = error_for_status(status, err("Incorrect API key provided: sk-proj-abcdef123456"), {})

    assert (result.status, result.error_type) == (502, "api_error")
    assert "gateway" in result.message and "not a problem with your API key" in result.message
    assert "sk-" not in result.message
    assert result.headers == {"x-should-retry": "false"}


def test_rate_limit_passes_retry_headers_through_whatever_their_case() -> None:
    headers = {"Retry-After": "2", "retry-after-ms": "1500", "x-request-id": "req_123", "Set-Cookie": "a=b"}

    result = error_for_status(429, err(code="rate_limit_exceeded"), headers)

    assert result.headers == {"retry-after": "2", "retry-after-ms": "1500"}


def test_exhausted_quota_is_not_retried() -> None:
    result = error_for_status(429, err(code="insufficient_quota"), {"retry-after": "1"})

    assert result.headers == {"x-should-retry": "false"}


def test_upstream_message_is_passed_on_redacted() -> None:
    result = error_for_status(
        400, err("Bad key sk-abc123def456 for org-AbCdEf123456 (request req_0123456789abcdef)"), {}
    )

    assert result.message == "Bad key [redacted] for [redacted] (request [redacted])"


@pytest.mark.parametrize("error", [None, {}, {"message": None}, {"message": "  "}, {"message": 42}])
def test_missing_upstream_message_falls_back_to_the_class_default(error: dict[str, Any] | None) -> None:
    result = error_for_status(400, error, {})

    assert result.message == InvalidRequestError.default_message


def test_only_the_message_field_reaches_the_client() -> None:
    result = error_for_status(400, err("short", param="secret_param", internal="trace"), {})

    assert result.message == "short" and result.headers == {}


# -- mid-stream -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "error_type"),
    [
        ({"code": "rate_limit_exceeded"}, "rate_limit_error"),
        ({"type": "too_many_requests", "code": "too_many_requests"}, "rate_limit_error"),
        ({"type": "tokens", "code": None}, "rate_limit_error"),
        ({"type": "insufficient_quota", "code": "credit_balance_exhausted"}, "billing_error"),
        ({"code": "server_is_overloaded"}, "overloaded_error"),
        ({"code": "slow_down"}, "overloaded_error"),
        ({"code": "invalid_prompt"}, "invalid_request_error"),
        ({"code": "invalid_image_url"}, "invalid_request_error"),
        ({"code": "image_too_large"}, "invalid_request_error"),
        ({"code": "context_length_exceeded"}, "invalid_request_error"),
        ({"code": "server_error"}, "api_error"),
        ({"code": "vector_store_timeout"}, "api_error"),
        ({}, "api_error"),
    ],
)
def test_mid_stream_error_code_maps_to_an_error_type(error: dict[str, Any], error_type: str) -> None:
    assert error_for_event({"message": "m", **error}).error_type == error_type


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "type": "error",
                "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "m", "param": None},
            },
            {"type": "tokens", "code": "rate_limit_exceeded", "message": "m"},
        ),
        (
            {"type": "error", "code": "server_error", "message": "m", "param": None},
            {"code": "server_error", "message": "m"},
        ),
        (
            {"type": "error", "error": {"message": "nested"}, "message": "flat", "code": "c"},
            {"code": "c", "message": "nested"},
        ),
        ({"type": "error", "error": "not an object", "message": "flat"}, {"message": "flat"}),
    ],
    ids=["nested", "flat", "mixed", "malformed-nested"],
)
def test_error_event_fields_read_nested_first_then_flat(
    data: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert event_error_fields(data) == expected


@pytest.mark.parametrize(
    ("exc", "cls", "status", "error_type"),
    [
        (UpstreamConnectError(), OverloadedError, 529, "overloaded_error"),
        (UpstreamPoolFull(), OverloadedError, 529, "overloaded_error"),
        (UpstreamTimeoutError(), GatewayTimeoutError, 504, "timeout_error"),
        (UpstreamStreamError(), BadGatewayError, 502, "api_error"),
    ],
)
def test_transport_failures_map_to_retryable_errors(
    exc: Exception, cls: type[GatewayError], status: int, error_type: str
) -> None:
    result = client_error(exc)

    assert (type(result), result.status, result.error_type) == (cls, status, error_type)
    assert "http" not in result.message.lower()


def test_an_upstream_status_error_maps_by_its_status_and_code() -> None:
    exc = OpenAIUpstreamError(
        status_code=429,
        payload={"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
        headers={"retry-after": "3"},
    )

    result = client_error(exc)

    assert (type(result), result.message, result.headers) == (
        RateLimitError,
        "slow down",
        {"retry-after": "3"},
    )


def test_gateway_errors_pass_through_unchanged() -> None:
    error = NotFoundError("model: x")

    assert client_error(error) is error


def test_unforwardable_payload_is_a_400_and_a_missing_key_a_502_that_says_do_not_retry() -> None:
    assert client_error(UnencodablePayload("it is nested too deeply")).status == 400
    missing = client_error(UpstreamNotConfigured("no key"))
    assert (missing.status, missing.headers) == (502, {"x-should-retry": "false"})


def test_anything_unexpected_is_a_500_api_error_without_its_message() -> None:
    result = client_error(KeyError("secret internals"))

    assert (result.status, result.error_type, result.message) == (500, "api_error", "Internal server error.")


def _timeout(phase: str) -> UpstreamTimeoutError:
    error = UpstreamTimeoutError()
    error.phase = phase
    return error


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (_timeout("pool"), "pool_timeout"),
        (UpstreamPoolFull(), "pool_timeout"),
        (_timeout("read"), "read_timeout"),
        (UpstreamConnectError(), "connect"),
        (UpstreamStreamError(), "upstream_dropped"),
        (OpenAIUpstreamError(status_code=500), "upstream_status"),
        (UpstreamNotConfigured("no key"), "not_configured"),
        (RateLimitError(), "rate_limit_error"),
        (ValueError("x"), "internal"),
    ],
)
def test_failure_cause_is_a_short_label(exc: Exception, cause: str) -> None:
    assert failure_cause(exc) == cause
