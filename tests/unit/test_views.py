"""The API views through Django's async handler, with the upstream mocked by respx.

End-to-end behaviour through uvicorn and the real SDK lives in tests/e2e; these pin the edge: auth,
body parsing, error envelopes and status mapping, request ids, and the stream's response shape.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
import pytest
import respx
from django.test import AsyncClient, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.api_client import (
    BASE,
    BODY,
    FIXTURES,
    UPSTREAM_KEY,
    KeyedClient,
    assert_envelope,
    fixture_json,
    post,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_gateway_settings"),
]


# -- non-streaming ------------------------------------------------------------------------------------


async def test_text_message_matches_the_fixture_and_carries_ids(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(json=fixture_json("text_simple.response.json"))
        response = await post(api, BODY, "/v1/messages?beta=true")
    assert response.status_code == 200, response.content
    assert json.loads(response.content) == fixture_json("text_simple.message.json")
    assert response["request-id"].startswith("req_")
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert sent.headers["x-correlation-id"] == response["X-Correlation-ID"]
    assert json.loads(sent.content)["model"] == "gpt-5"


async def test_incoming_correlation_id_is_honoured(api: AsyncClient) -> None:
    guid = "0f3b2c1d4e5f60718293a4b5c6d7e8f9"
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(json=fixture_json("text_simple.response.json"))
        response = await post(api, BODY, headers={"X-Correlation-ID": guid})
    assert response["X-Correlation-ID"] == guid
    assert route.calls.last.request.headers["x-correlation-id"] == guid


# -- the request's outcome -----------------------------------------------------------------------------


@pytest.fixture
def outcomes() -> Any:
    from streaming.outcome import add_sink, remove_sink

    seen: list[Any] = []
    add_sink(seen.append)
    yield seen
    remove_sink(seen.append)


async def test_a_json_answer_completes_one_outcome_with_route_usage_and_stop_reason(
    api: AsyncClient, outcomes: list[Any]
) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(json=fixture_json("text_simple.response.json"))
        response = await post(api, BODY)
    message = json.loads(response.content)

    [outcome] = outcomes
    assert (outcome.endpoint, outcome.status, outcome.stream) == ("messages", 200, False)
    assert (outcome.client_key_name, outcome.client_model, outcome.upstream_model) == (
        "unit",
        "claude-sonnet-4-6",
        "gpt-5",
    )
    assert outcome.upstream == "settings"
    assert outcome.stop_reason == message["stop_reason"]
    assert (outcome.input_tokens, outcome.output_tokens) == (
        message["usage"]["input_tokens"],
        message["usage"]["output_tokens"],
    )
    assert outcome.correlation_id == response["X-Correlation-ID"]


async def test_a_failed_request_records_its_error_type_and_cause(
    api: AsyncClient, outcomes: list[Any]
) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=httpx2.ConnectError("refused"))
        await post(api, BODY)

    [outcome] = outcomes
    assert (outcome.status, outcome.error_type, outcome.cause) == (529, "overloaded_error", "connect")


async def test_a_stream_completes_its_outcome_when_it_ends(api: AsyncClient, outcomes: list[Any]) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=(FIXTURES / "text_simple.sse").read_bytes(), headers={"content-type": "text/event-stream"}
        )
        response = await post(api, {**BODY, "stream": True})
        b"".join([chunk async for chunk in response.streaming_content])

    [outcome] = outcomes
    assert (outcome.stream, outcome.status, outcome.stop_reason) == (True, 200, "end_turn")
    assert outcome.output_tokens > 0


# -- client errors ------------------------------------------------------------------------------------


async def test_missing_key_is_401() -> None:
    response = await post(AsyncClient(), BODY)
    assert_envelope(response, 401, "authentication_error")


async def test_wrong_key_is_401() -> None:
    response = await post(KeyedClient({"authorization": "Bearer nope"}), BODY)
    assert_envelope(response, 401, "authentication_error")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ("[1, 2]", "application/json", "JSON object"),
        ('{"model": NaN}', "application/json", "not valid JSON"),
        ("model=x", "application/x-www-form-urlencoded", "Content-Type"),
        ({"max_tokens": 5, "messages": []}, "application/json", "model"),
        (
            {**BODY, "messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]},
            "application/json",
            "messages.0.content.0",
        ),
    ],
)
async def test_bad_bodies_are_400_with_a_clear_message(
    api: AsyncClient, body: Any, content_type: str, message: str
) -> None:
    response = await post(api, body, content_type=content_type)
    assert message in assert_envelope(response, 400, "invalid_request_error")["error"]["message"]


async def test_body_over_the_limit_is_413(api: AsyncClient) -> None:
    with override_settings(GATEWAY_MAX_BODY_BYTES=100):
        response = await post(api, {**BODY, "system": "x" * 200})
    assert_envelope(response, 413, "request_too_large")


async def test_wrong_method_is_405_with_allow(api: AsyncClient) -> None:
    response = await api.get("/v1/messages")
    assert_envelope(response, 405, "invalid_request_error")
    assert response["Allow"] == "POST"


async def test_unknown_path_is_404_envelope(api: AsyncClient) -> None:
    assert_envelope(await api.get("/v1/nothing-here"), 404, "not_found_error")


async def test_missing_upstream_key_is_a_clear_gateway_error(api: AsyncClient) -> None:
    with override_settings(OPENAI_API_KEY=None):
        response = await post(api, BODY)
    body = assert_envelope(response, 502, "api_error")
    assert "OPENAI_API_KEY" in body["error"]["message"]
    assert response["x-should-retry"] == "false"


# -- upstream errors ----------------------------------------------------------------------------------

UPSTREAM_ERRORS = [
    (
        400,
        {"error": {"message": "bad param", "type": "invalid_request_error", "code": None}},
        400,
        "invalid_request_error",
    ),
    (
        401,
        {
            "error": {
                "message": f"Incorrect API key provided: {UPSTREAM_KEY}",
                "type": "invalid_request_error",
            }
        },
        502,
        "api_error",
    ),
    (403, {"error": {"message": "region"}}, 502, "api_error"),
    (404, {"error": {"message": "model not found", "code": "model_not_found"}}, 404, "not_found_error"),
    (429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}, 429, "rate_limit_error"),
    (500, {"error": {"message": "oops"}}, 502, "api_error"),
    (503, {"error": {"message": "overloaded"}}, 529, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "payload", "expected_status", "expected_type"), UPSTREAM_ERRORS)
@pytest.mark.parametrize("stream", [False, True])
async def test_upstream_http_errors_map_to_anthropic_errors_before_any_stream(
    api: AsyncClient, status: int, payload: Any, expected_status: int, expected_type: str, stream: bool
) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(status, json=payload, headers={"retry-after": "7"})
        response = await post(api, {**BODY, "stream": stream})
    assert_envelope(response, expected_status, expected_type)
    if status == 429:
        assert response["retry-after"] == "7"


@pytest.mark.parametrize(
    ("exception", "expected_status", "expected_type"),
    [
        (httpx2.ConnectError("refused"), 529, "overloaded_error"),
        (httpx2.PoolTimeout("no connection"), 529, "overloaded_error"),
        (httpx2.ReadTimeout("slow"), 504, "timeout_error"),
    ],
)
async def test_unreachable_or_slow_upstream(
    api: AsyncClient, exception: Exception, expected_status: int, expected_type: str
) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=exception)
        response = await post(api, BODY)
    assert_envelope(response, expected_status, expected_type)


@pytest.mark.parametrize("stream", [False, True])
async def test_full_connection_pool_is_a_retryable_overload_of_the_gateway_not_an_upstream_timeout(
    api: AsyncClient, stream: bool
) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=httpx2.PoolTimeout("no connection"))
        response = await post(api, {**BODY, "stream": stream})

    body = assert_envelope(response, 529, "overloaded_error")
    assert (
        body["error"]["message"]
        == "The gateway is at capacity: every upstream connection is busy. Retry shortly."
    )
    assert response["x-should-retry"] == "true"


# -- streaming ----------------------------------------------------------------------------------------


async def test_stream_is_an_async_event_stream_ending_in_message_stop(api: AsyncClient) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=(FIXTURES / "text_simple.sse").read_bytes(), headers={"content-type": "text/event-stream"}
        )
        response = await post(api, {**BODY, "stream": True})
        assert response.status_code == 200
        assert response.is_async
        assert response["content-type"] == "text/event-stream; charset=utf-8"
        assert response["request-id"].startswith("req_")
        content = b"".join([chunk async for chunk in response.streaming_content])
    events = [frame.split(b"\n", 1)[0] for frame in content.strip().split(b"\n\n")]
    assert events[0] == b"event: message_start"
    assert events[-2:] == [b"event: message_delta", b"event: message_stop"]


async def test_stream_alias_always_streams(api: AsyncClient) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=(FIXTURES / "text_simple.sse").read_bytes(), headers={"content-type": "text/event-stream"}
        )
        response = await post(api, BODY, "/v1/messages/stream")
        assert response["content-type"].startswith("text/event-stream")
        content = b"".join([chunk async for chunk in response.streaming_content])
    assert content.startswith(b"event: message_start\n")


# -- other endpoints ----------------------------------------------------------------------------------


async def test_count_tokens_needs_no_max_tokens(api: AsyncClient) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses/input_tokens").respond(
            json={"object": "response.input_tokens", "input_tokens": 9}
        )
        response = await post(
            api, {"model": "claude-sonnet-4-6", "messages": BODY["messages"]}, "/v1/messages/count_tokens"
        )
    assert response.status_code == 200
    assert json.loads(response.content) == {"input_tokens": 9}


async def test_models_list_and_detail(api: AsyncClient) -> None:
    with override_settings(GATEWAY_MODELS=["claude-sonnet-4-6", "claude-haiku-4-5"]):
        listed = json.loads((await api.get("/v1/models?limit=1")).content)
        one = await api.get("/v1/models/claude-haiku-4-5")
        missing = await api.get("/v1/models/gpt-nothing")
    assert [m["id"] for m in listed["data"]] == ["claude-sonnet-4-6"]
    assert listed["has_more"] is True
    assert json.loads(one.content)["id"] == "claude-haiku-4-5"
    assert_envelope(missing, 404, "not_found_error")


async def test_healthz() -> None:
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content) == {"status": "ok"}


@pytest.mark.parametrize("method", ["post", "put", "delete", "patch", "trace"])
async def test_healthz_answers_other_methods_405_in_the_envelope(method: str) -> None:
    """Found by the contract fuzzer: ``TRACE /healthz`` answered 200 where docs/openapi.yaml says GET only."""
    response = await AsyncClient().generic(method.upper(), "/healthz")

    assert_envelope(response, 405, "invalid_request_error")
    assert response["Allow"] == "GET, HEAD"


# -- nothing ever escapes the envelope ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.text(st.characters(categories=["Cs", "Ll"]), max_size=4),  # lone surrogates too
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
message_like = st.fixed_dictionaries(
    {
        "model": st.text(max_size=10) | json_values,
        "messages": json_values,
        "max_tokens": st.integers() | json_values,
    },
    optional={"stream": json_values, "system": json_values, "tools": json_values, "thinking": json_values},
)


def answer_like_openai(request: httpx.Request) -> httpx.Response:
    if json.loads(request.content).get("stream"):
        stream = (FIXTURES / "text_simple.sse").read_bytes()
        return httpx.Response(200, content=stream, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=fixture_json("text_simple.response.json"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | message_like)
async def test_random_json_always_gets_an_envelope_or_a_message(api: AsyncClient, body: Any) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/responses").mock(side_effect=answer_like_openai)
        response = await post(api, json.dumps(body))  # always JSON text, even when the value is a string
    if response.status_code != 200:
        assert response.status_code < 500
        assert_envelope(response, response.status_code, json.loads(response.content)["error"]["type"])


# -- upstreams that refuse reasoning summaries --------------------------------------------------------

SUMMARY_REFUSED = {
    "error": {
        "message": "Your organization must be verified to generate reasoning summaries.",
        "type": "invalid_request_error",
        "param": "reasoning.summary",
        "code": "unsupported_value",
    }
}


def refuse_summaries(request: httpx.Request) -> httpx.Response:
    if "summary" in json.loads(request.content).get("reasoning", {}):
        return httpx.Response(400, json=SUMMARY_REFUSED)
    return answer_like_openai(request)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_upstream_refusing_reasoning_summaries_is_asked_again_without_and_then_never(
    api: AsyncClient, stream: bool
) -> None:
    thinking = {
        **BODY,
        "max_tokens": 2048,
        "stream": stream,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/responses").mock(side_effect=refuse_summaries)
        first = await post(api, thinking)
        if stream:
            b"".join([chunk async for chunk in first.streaming_content])
        second = await post(api, thinking)
        if stream:
            b"".join([chunk async for chunk in second.streaming_content])
    assert (first.status_code, second.status_code) == (200, 200)
    sent = [json.loads(call.request.content)["reasoning"] for call in route.calls]
    assert sent == [{"effort": "low", "summary": "auto"}, {"effort": "low"}, {"effort": "low"}]


async def test_other_upstream_400s_are_not_retried(api: AsyncClient) -> None:
    thinking = {**BODY, "max_tokens": 2048, "thinking": {"type": "enabled", "budget_tokens": 1024}}
    with respx.mock() as mock:
        route = mock.post(f"{BASE}/responses").respond(
            400, json={"error": {"message": "bad", "param": "input"}}
        )
        response = await post(api, thinking)
    assert_envelope(response, 400, "invalid_request_error")
    assert route.call_count == 1


# -- bodies that parse but cannot be forwarded as strict JSON ------------------------------------------


def nested_schema_body(depth: int) -> str:
    """A body whose tool schema is ``depth`` levels deep (built as text: json.dumps would overflow too)."""
    schema = '{"type":"object","properties":{"a":' * depth + '{"type":"object"}' + "}}" * depth
    return json.dumps({**BODY, "tools": [{"name": "t", "input_schema": "SCHEMA"}]}).replace(
        '"SCHEMA"', schema
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (json.dumps({**BODY, "messages": [{"role": "user", "content": "\ud800"}]}), "surrogate"),
        (json.dumps({**BODY, "model": "claude-\udfff"}), "surrogate"),
        ('{"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}], '
         '"temperature": 1e999}', "out of range"),
        (json.dumps({**BODY, "tools": [{"name": "t", "input_schema": {"type": "object", "properties": {"a": {"type": "number", "maximum": 0.5}}}}]}).replace("0.5", "1e999"), "out of range"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("stream", [False, True])
async def test_unforwardable_bodies_are_400_not_500(
    api: AsyncClient, raw: str, message: str, stream: bool
) -> None:
    if stream:
        raw = raw.replace('"max_tokens"', '"stream": true, "max_tokens"', 1)
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{BASE}/responses").mock(side_effect=answer_like_openai)
        response = await post(api, raw)
    assert message in assert_envelope(response, 400, "invalid_request_error")["error"]["message"]
    assert route.call_count == 0


async def test_a_schema_nested_too_deeply_to_forward_is_400(api: AsyncClient) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{BASE}/responses").mock(side_effect=answer_like_openai)
        response = await post(api, nested_schema_body(930))
    assert_envelope(response, 400, "invalid_request_error")


async def test_upstream_text_with_a_lone_surrogate_still_gets_a_json_answer(api: AsyncClient) -> None:
    answer = json.dumps(fixture_json("text_simple.response.json")).replace("Hello", "\\ud83d")
    with respx.mock() as mock:
        mock.post(f"{BASE}/responses").respond(
            200, content=answer.encode(), headers={"content-type": "application/json"}
        )
        response = await post(api, BODY)
    assert response.status_code == 200
    assert json.loads(response.content)["content"][0]["text"].startswith("\ud83d")


async def test_a_host_not_in_allowed_hosts_is_refused(api: AsyncClient) -> None:
    response = await post(api, BODY, headers={"host": "evil.example"})
    assert_envelope(response, 400, "invalid_request_error")


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3"])
async def test_non_ascii_digits_in_limit_are_400(api: AsyncClient, limit: str) -> None:
    assert_envelope(await api.get(f"/v1/models?limit={limit}"), 400, "invalid_request_error")


@pytest.mark.parametrize("status", [200, 400])
async def test_upstream_json_nested_too_deeply_is_a_gateway_error_not_a_crash(
    api: AsyncClient, status: int
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with respx.mock() as mock:
        mock.post(f"{BASE}/responses").respond(
            status, content=deep, headers={"content-type": "application/json"}
        )
        response = await post(api, BODY)
    body = assert_envelope(
        response, 502 if status == 200 else 400, "api_error" if status == 200 else "invalid_request_error"
    )
    assert "Traceback" not in body["error"]["message"]
