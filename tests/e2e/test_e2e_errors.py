"""Every failure reaches the client as Anthropic's error envelope with the right status, so the official
SDK raises the right exception class; and nothing the gateway answers ever carries its upstream key.

Upstream mapping (streaming/error_map.py): 400 -> 400, 401/403 -> 502 ``api_error`` (the gateway's
credentials, not the client's) with ``x-should-retry: false``, 404 -> 404, 429 -> 429 (``retry-after``
passed), quota -> 402, 500 -> 502, 503 -> 529, unreachable -> 529, timeout -> 504; no upstream connection
free within the pool wait (the gateway's own capacity) -> 529 with ``x-should-retry: true``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.conftest import ONE_CONNECTION_SETTINGS, TUNED_SETTINGS
from tests.e2e.helpers import Gateway, answer, anthropic_headers
from tests.fakes.upstream import (
    FakeUpstream,
    error,
    held,
    sse_frame,
    stall,
    text_response_events,
)

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4-6"
REQUEST: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}


def image_url(url: str) -> dict[str, Any]:
    return {"type": "image", "source": {"type": "url", "url": url}}


def assert_envelope(response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    """Anthropic's error shape: JSON envelope, the status, a request id in the header and the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert response.headers["request-id"]
    assert body.get("request_id", response.headers["request-id"]) == response.headers["request-id"]
    return body


# Client-side problems --------------------------------------------------------------------------------


def test_wrong_client_key_raises_authentication_error(gateway: Gateway, upstream: FakeUpstream) -> None:
    with (
        anthropic.Anthropic(base_url=gateway.base_url, api_key="sk-ant-wrong", max_retries=0) as sdk,
        pytest.raises(anthropic.AuthenticationError) as caught,
    ):
        sdk.messages.create(**REQUEST)

    assert caught.value.status_code == 401
    assert caught.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
    assert caught.value.request_id
    assert upstream.requests == []


def test_bearer_token_is_accepted_like_an_api_key(gateway: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(answer(text_response_events("Hello")))
    with anthropic.Anthropic(
        base_url=gateway.base_url, auth_token=gateway.client_key, api_key=None, max_retries=0
    ) as sdk:
        message = sdk.messages.create(**REQUEST)

    assert message.content[0].text == "Hello"  # type: ignore[union-attr]


def test_missing_key_is_401(http: httpx.Client) -> None:
    response = http.post("/v1/messages", json=REQUEST)

    assert_envelope(response, 401, "authentication_error")


@pytest.mark.parametrize(
    ("overrides", "path_in_message"),
    [
        ({"messages": []}, "messages"),
        ({"max_tokens": "many"}, "max_tokens"),
        (
            {"messages": [{"role": "user", "content": [{"type": "hologram", "data": "x"}]}]},
            "messages.0.content.0",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png"}}
                        ],
                    }
                ]
            },
            "messages.0.content.0.source.data",
        ),
        ({"max_tokens": 10**30}, "max_tokens: Input should be less than or equal to 2147483647"),
        (
            {
                "messages": [
                    {"role": "user", "content": [image_url("http://169.254.169.254/latest/meta-data/")]}
                ]
            },
            "messages.0.content.0.source.url: URL host '169.254.169.254' is not a public address",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "Look:"}, image_url("file:///etc/passwd")],
                    }
                ]
            },
            "messages.0.content.1.source.url: URL scheme 'file' is not allowed",
        ),
        (
            {"messages": [{"role": "user", "content": [image_url("http://0x7f.1/admin")]}]},
            "messages.0.content.0.source.url: URL host '0x7f.1' is not a public address",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "document",
                                "source": {
                                    "type": "base64",
                                    "media_type": "application/pdf",
                                    "data": "JVBERi0x%",
                                },
                            }
                        ],
                    }
                ]
            },
            "messages.0.content.0.source.data: Invalid base64 data: character '%' at position 8",
        ),
    ],
    ids=[
        "empty-messages",
        "max-tokens-type",
        "unknown-block",
        "image-without-data",
        "max-tokens-beyond-any-limit",
        "image-url-metadata-address",
        "image-url-file-scheme",
        "image-url-hex-loopback",
        "pdf-invalid-base64",
    ],
)
def test_bad_body_raises_bad_request_naming_the_field(
    client: anthropic.Anthropic, upstream: FakeUpstream, overrides: dict[str, Any], path_in_message: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(**{**REQUEST, **overrides})

    assert caught.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert path_in_message in caught.value.body["error"]["message"]  # type: ignore[index]
    assert upstream.requests == []


@pytest.mark.parametrize("missing", ["model", "max_tokens", "messages"])
def test_missing_required_field_is_400_naming_it(http: httpx.Client, gateway: Gateway, missing: str) -> None:
    body = {key: value for key, value in REQUEST.items() if key != missing}

    response = http.post("/v1/messages", json=body, headers=anthropic_headers(gateway.client_key))

    assert missing in assert_envelope(response, 400, "invalid_request_error")["error"]["message"]


def test_malformed_json_is_400(http: httpx.Client, gateway: Gateway) -> None:
    response = http.post(
        "/v1/messages", content=b'{"model": "x", ', headers=anthropic_headers(gateway.client_key)
    )

    assert_envelope(response, 400, "invalid_request_error")


def test_wrong_content_type_is_400(http: httpx.Client, gateway: Gateway) -> None:
    headers = {**anthropic_headers(gateway.client_key), "content-type": "text/plain"}

    response = http.post("/v1/messages", content=json.dumps(REQUEST), headers=headers)

    assert_envelope(response, 400, "invalid_request_error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/messages"),
        ("PUT", "/v1/messages"),
        ("GET", "/v1/messages/count_tokens"),
        ("POST", "/v1/models"),
    ],
)
def test_wrong_method_is_405(http: httpx.Client, gateway: Gateway, method: str, path: str) -> None:
    response = http.request(method, path, headers=anthropic_headers(gateway.client_key))

    assert_envelope(response, 405, "invalid_request_error")


@pytest.mark.parametrize("path", ["/v1/nothing-here", "/v1/complete", "/"])
def test_unknown_path_is_404(http: httpx.Client, gateway: Gateway, path: str) -> None:
    response = http.post(path, json=REQUEST, headers=anthropic_headers(gateway.client_key))

    assert_envelope(response, 404, "not_found_error")


def test_unknown_model_id_raises_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")


def test_query_string_is_ignored_by_routing(http: httpx.Client, gateway: Gateway) -> None:
    """Claude Code calls ``/v1/messages?beta=true``."""
    response = http.get("/v1/models?beta=true", headers=anthropic_headers(gateway.client_key))

    assert response.status_code == 200


def test_body_over_the_limit_raises_request_too_large(
    tuned_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    limit = int(TUNED_SETTINGS["GATEWAY_MAX_BODY_BYTES"])

    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        client_for(tuned_gateway).messages.create(
            model=MODEL, max_tokens=10, messages=[{"role": "user", "content": "x" * (limit + 1)}]
        )

    assert caught.value.body["error"]["type"] == "request_too_large"  # type: ignore[index]
    assert upstream.requests == []


def test_body_over_the_limit_is_413_even_without_content_length(tuned_gateway: Gateway) -> None:
    limit = int(TUNED_SETTINGS["GATEWAY_MAX_BODY_BYTES"])
    body = json.dumps({**REQUEST, "system": "x" * limit}).encode()

    def chunks() -> Any:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = httpx.post(
        f"{tuned_gateway.base_url}/v1/messages",
        content=chunks(),
        headers=anthropic_headers(tuned_gateway.client_key),
        timeout=30,
    )

    assert_envelope(response, 413, "request_too_large")


# Upstream problems -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "upstream_error", "exception", "client_status", "error_type"),
    [
        (400, {"message": "Invalid 'input[0]'.", "type": "invalid_request_error", "code": None}, anthropic.BadRequestError, 400, "invalid_request_error"),
        (401, {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}, anthropic.InternalServerError, 502, "api_error"),
        (403, {"message": "Project does not have access.", "type": "invalid_request_error", "code": None}, anthropic.InternalServerError, 502, "api_error"),
        (404, {"message": "The model 'gpt-9' does not exist.", "type": "invalid_request_error", "code": "model_not_found"}, anthropic.NotFoundError, 404, "not_found_error"),
        (429, {"message": "Rate limit reached.", "type": "requests", "code": "rate_limit_exceeded"}, anthropic.RateLimitError, 429, "rate_limit_error"),
        (429, {"message": "You exceeded your quota.", "type": "insufficient_quota", "code": "insufficient_quota"}, anthropic.PaymentRequiredError, 402, "billing_error"),
        (500, {"message": "The server had an error.", "type": "server_error", "code": None}, anthropic.InternalServerError, 502, "api_error"),
        (503, {"message": "The engine is overloaded.", "type": "server_error", "code": None}, anthropic.OverloadedError, 529, "overloaded_error"),
    ],
    ids=["400", "401", "403", "404", "429", "429-quota", "500", "503"],
)  # fmt: skip
def test_upstream_http_error_raises_the_matching_sdk_exception(
    client: anthropic.Anthropic,
    upstream: FakeUpstream,
    status: int,
    upstream_error: dict[str, Any],
    exception: type[anthropic.APIStatusError],
    client_status: int,
    error_type: str,
) -> None:
    upstream.set_default(error(status, {"error": {**upstream_error, "param": None}}))  # every attempt

    with pytest.raises(exception) as caught:
        client.messages.create(**REQUEST)

    assert caught.value.status_code == client_status
    assert caught.value.body["type"] == "error"  # type: ignore[index]
    assert caught.value.body["error"]["type"] == error_type  # type: ignore[index]
    assert caught.value.request_id


def test_upstream_400_message_reaches_the_client(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.enqueue(
        error(400, {"error": {"message": "Invalid 'input[0].content'.", "type": "invalid_request_error"}})
    )

    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(**REQUEST)

    assert "Invalid 'input[0].content'." in caught.value.body["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("status", [401, 403])
def test_upstream_credential_errors_blame_the_gateway_and_forbid_retries(
    client: anthropic.Anthropic, upstream: FakeUpstream, status: int
) -> None:
    upstream.enqueue(error(status))

    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(**REQUEST)

    assert not isinstance(caught.value, anthropic.AuthenticationError | anthropic.PermissionDeniedError)
    assert caught.value.response.headers["x-should-retry"] == "false"
    assert "gateway" in caught.value.body["error"]["message"].lower()  # type: ignore[index]


def test_upstream_rate_limit_passes_retry_after_through(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(
        error(
            429,
            {"error": {"message": "Slow down.", "type": "requests", "code": "rate_limit_exceeded"}},
            headers={"retry-after": "7", "retry-after-ms": "7000"},
        )
    )

    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(**REQUEST)

    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.response.headers["retry-after-ms"] == "7000"


def test_upstream_non_json_error_body_still_gives_an_envelope(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(error(500, "<html><body>Bad gateway</body></html>"))

    with pytest.raises(anthropic.InternalServerError) as caught:
        client.messages.create(**REQUEST)

    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "<html>" not in json.dumps(caught.value.body)


def test_unreachable_upstream_raises_overloaded(unreachable_gateway: Gateway, client_for: Any) -> None:
    with pytest.raises(anthropic.OverloadedError) as caught:
        client_for(unreachable_gateway).messages.create(**REQUEST)

    assert caught.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]
    assert "127.0.0.1" not in json.dumps(caught.value.body)


@contextlib.contextmanager
def streaming_on_the_only_connection(gateway: Gateway) -> Iterator[None]:
    """A stream the upstream holds open after its first event, read that far: the worker's only upstream
    connection carries it until the block ends."""
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/messages",
        json={**REQUEST, "stream": True},
        headers=anthropic_headers(gateway.client_key),
        timeout=30,
    ) as busy:
        received = busy.iter_raw()  # kept: dropping the iterator would close the stream
        next(received)
        yield


def test_with_every_upstream_connection_busy_the_next_request_is_a_fast_retryable_overload(
    one_connection_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    pool_wait = float(ONE_CONNECTION_SETTINGS["GATEWAY_POOL_TIMEOUT"])
    upstream.set_default(held(sse_frame(text_response_events("Hi")[0])))
    with streaming_on_the_only_connection(one_connection_gateway):
        started = time.monotonic()

        with pytest.raises(anthropic.OverloadedError) as caught:
            client_for(one_connection_gateway).messages.create(**REQUEST)

        waited = time.monotonic() - started
    assert pool_wait <= waited < pool_wait + 1.0
    assert caught.value.body["error"]["message"] == (  # type: ignore[index]
        "The gateway is at capacity: every upstream connection is busy. Retry shortly."
    )
    assert caught.value.response.headers["x-should-retry"] == "true"


def test_the_connection_a_finished_stream_frees_serves_the_next_request(
    one_connection_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    upstream.enqueue(held(sse_frame(text_response_events("Hi")[0])))
    upstream.set_default(answer(text_response_events("Hello")))
    with streaming_on_the_only_connection(one_connection_gateway):
        pass

    message = client_for(one_connection_gateway).messages.create(**REQUEST)

    assert message.content[0].text == "Hello"  # type: ignore[union-attr]


def test_upstream_timeout_raises_gateway_timeout(
    tuned_gateway: Gateway, client_for: Any, upstream: FakeUpstream
) -> None:
    upstream.set_default(stall(10))

    with pytest.raises(anthropic.GatewayTimeoutError) as caught:
        client_for(tuned_gateway).messages.create(**REQUEST)

    assert caught.value.body["error"]["type"] == "timeout_error"  # type: ignore[index]


def test_missing_upstream_key_is_a_clear_configuration_error(
    keyless_gateway: Gateway, client_for: Any
) -> None:
    with pytest.raises(anthropic.InternalServerError) as caught:
        client_for(keyless_gateway).messages.create(**REQUEST)

    assert "OPENAI_API_KEY" in caught.value.body["error"]["message"]  # type: ignore[index]
    assert caught.value.response.headers["x-should-retry"] == "false"


# The upstream key never leaks ------------------------------------------------------------------------


def test_upstream_key_never_appears_in_any_answer(
    client: anthropic.Anthropic, http: httpx.Client, gateway: Gateway, upstream: FakeUpstream
) -> None:
    """Upstream errors that echo the key (OpenAI does, masked or not) are redacted on every path."""
    key = gateway.upstream_key
    echoing = {
        "error": {
            "message": f"Incorrect API key provided: {key}. Bearer {key}",
            "type": "invalid_request_error",
        }
    }
    headers = anthropic_headers(gateway.client_key)
    answers = []
    for behaviour in [
        *(error(status, echoing, headers={"x-echo": key}) for status in (400, 401, 403, 404, 429, 500, 503)),
        error(500, f"upstream stack trace with {key}"),
    ]:
        upstream.set_default(behaviour)  # the same answer however often the gateway retries
        answers.append(http.post("/v1/messages", json=REQUEST, headers=headers))
    answers.append(http.post("/v1/messages", content=b"{", headers=headers))
    answers.append(http.get("/v1/models", headers=headers))
    answers.append(http.post("/v1/messages", json=REQUEST, headers={**headers, "x-api-key": key}))

    assert len(upstream.requests) >= 8
    for response in answers:
        assert key not in response.text
        assert key[8:] not in response.text
        assert all(key not in value for value in response.headers.values())
