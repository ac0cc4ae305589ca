"""Upstream errors carry safe payloads (streaming/transport/errors.py): allow-listed fields, no secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from streaming.transport.errors import (
    OpenAIUpstreamError,
    UpstreamConnectError,
    UpstreamStreamError,
    UpstreamTimeoutError,
    kept_headers,
    safe_error_payload,
    upstream_error_from_response,
)


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            body({"error": {"message": "m", "type": "t", "code": "c", "param": "p", "extra": {"x": 1}}}),
            {"message": "m", "type": "t", "code": "c", "param": "p"},
            id="allow-listed-fields-only",
        ),
        pytest.param(
            body({"error": {"message": "m", "type": "t", "code": None, "param": None}}),
            {"message": "m", "type": "t", "code": None, "param": None},
            id="nulls-kept",
        ),
        pytest.param(
            body({"error": {"message": "m", "code": {"nested": 1}, "param": ["a"], "type": True}}),
            {"message": "m", "type": "upstream_error"},
            id="non-scalar-values-dropped",
        ),
        pytest.param(
            body({"error": {"code": 1234}}),
            {"message": "upstream returned HTTP 500", "type": "upstream_error", "code": 1234},
            id="missing-message-filled",
        ),
        pytest.param(
            body({"error": "plain text error"}),
            {"message": "plain text error", "type": "upstream_error"},
            id="string-error",
        ),
        pytest.param(
            b"<html>oops</html>",
            {"message": "upstream returned HTTP 500", "type": "upstream_error"},
            id="html",
        ),
        pytest.param(b"", {"message": "upstream returned HTTP 500", "type": "upstream_error"}, id="empty"),
        pytest.param(
            body({"detail": "x"}),
            {"message": "upstream returned HTTP 500", "type": "upstream_error"},
            id="no-error-key",
        ),
        pytest.param(
            body(["error"]),
            {"message": "upstream returned HTTP 500", "type": "upstream_error"},
            id="not-an-object",
        ),
    ],
)
def test_safe_error_payload(raw: bytes, expected: dict[str, Any]) -> None:
    assert safe_error_payload(500, raw) == {"error": expected}


def test_safe_error_payload_redacts_every_string_field() -> None:
    raw = body(
        {
            "error": {
                "message": "bad sk-abcdefghijklmnopqrst",
                "param": "org-abcdefghij",
                "type": "t",
                "code": "k",
            }
        }
    )

    assert safe_error_payload(401, raw, ("k",)) == {
        "error": {"message": "bad [redacted]", "type": "t", "code": "[redacted]", "param": "[redacted]"}
    }


def test_safe_error_payload_truncates_long_messages() -> None:
    raw = body({"error": {"message": "x" * 10_000, "type": "t"}})

    assert len(safe_error_payload(400, raw)["error"]["message"]) == 2000


def test_kept_headers_ignore_case_and_drop_everything_else() -> None:
    headers = {"Retry-After": "1", "X-Request-ID": "req_1", "Set-Cookie": "a=b", "Authorization": "Bearer x"}

    assert kept_headers(headers) == {"retry-after": "1", "x-request-id": "req_1"}


def test_error_from_response_exposes_status_code_message_and_type() -> None:
    raw = body(
        {
            "error": {
                "message": "You exceeded your quota.",
                "type": "insufficient_quota",
                "code": "insufficient_quota",
            }
        }
    )

    error = upstream_error_from_response(429, raw, {"retry-after": "20"})

    assert (error.status_code, error.code, error.upstream_type) == (
        429,
        "insufficient_quota",
        "insufficient_quota",
    )
    assert error.message == "You exceeded your quota."
    assert error.headers == {"retry-after": "20"}
    assert str(error) == "HTTP 429: You exceeded your quota."


@pytest.mark.parametrize(
    ("cls", "error_type"),
    [
        (OpenAIUpstreamError, "upstream_error"),
        (UpstreamConnectError, "upstream_unreachable"),
        (UpstreamTimeoutError, "upstream_timeout"),
        (UpstreamStreamError, "upstream_stream_error"),
    ],
)
def test_each_error_has_a_type_label_and_a_placeholder_payload(
    cls: type[OpenAIUpstreamError], error_type: str
) -> None:
    error = cls("something failed")

    assert issubclass(cls, OpenAIUpstreamError)
    assert cls.error_type == error_type
    assert error.status_code is None
    assert error.payload == {"error": {"message": "something failed", "type": error_type}}
    assert str(error) == f"{error_type}: something failed"
