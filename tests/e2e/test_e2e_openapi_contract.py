"""The live gateway keeps the contract docs/openapi.yaml publishes, whatever a client sends.

schemathesis generates requests from the document, valid and invalid, and sends them to the real gateway
under uvicorn (authenticated with a client key; the fake upstream answers every upstream call). Each
response must be no 5xx, carry a documented status and content type, match the schema documented for it,
and, when it is an error (an HTTP error or an ``event: error`` frame in a stream), be Anthropic's envelope
with no trace of the upstream key. The run is bounded (``MAX_EXAMPLES`` per operation, no shrinking) and
seeded, so CI sees the same requests every time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.e2e.conftest import GatewayFactory
from tests.e2e.helpers import REPO_ROOT, Gateway, parse_sse
from tests.fakes.upstream import (
    INPUT_TOKENS_PATH,
    RESPONSES_PATH,
    Behaviour,
    FakeUpstream,
    RecordedRequest,
    final_response,
    function_call_events,
    json_response,
    reasoning_response_events,
    sse_events,
    text_response_events,
    web_search_response_events,
)
from tests.servers import RedisDatabase, redis_database

pytestmark = [pytest.mark.e2e, pytest.mark.contract]

OPENAPI = REPO_ROOT / "docs" / "openapi.yaml"
MAX_EXAMPLES = 25  # fuzzed cases per operation; the boundary (coverage) cases are a fixed set on top
SEED = 20260924
# All six operations take about 15 s on 2 cores, POST /v1/messages (with its boundary cases) most. On a
# slow or busy machine an operation stops sending after OPERATION_SECONDS (so none starves the others)
# and all of them after TOTAL_SECONDS; what was not sent is reported as skipped.
OPERATION_SECONDS = 20.0
TOTAL_SECONDS = 50.0
_started: dict[str, float] = {}
ERROR_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    }
)

# Checks every response gets; fuzzed cases also get ``ignored_auth`` (the request again without a key, and
# with a wrong one: both must be 401). Not enabled: ``positive_data_acceptance`` (some rules cross fields
# and no schema can state them: a thinking budget below max_tokens, a tool_result answering an earlier
# tool_use) and ``negative_data_rejection`` (fields the gateway drops, such as cache_control, are not
# policed: a client sending a newer shape of them must not fail).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
    "errors_are_anthropic_envelopes",
)
schema = schemathesis.openapi.from_path(
    OPENAPI,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "no-shrink": True,
                "database": "none",
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {
                "stateful": {"enabled": False},
                "fuzzing": {"checks": {"ignored_auth": {"enabled": True}}},
            },
            # Their bodies are POST /v1/messages's (count_tokens without max_tokens and stream) and go through
            # the same validation and translation: its boundary cases, sent again here, would test nothing
            # new. Their own paths (the stream, the count) get their fuzzed cases.
            "operations": [
                {"include-path": path, "phases": {"coverage": {"enabled": False}}}
                for path in ("/v1/messages/stream", "/v1/messages/count_tokens")
            ],
        }
    ),
)

# Set by the fixture below: the key no response may contain (a check is a plain function, not a fixture).
_upstream_key: list[str] = []


def _past_deadline(operation: str) -> bool:
    now = time.monotonic()
    first, started = _started.setdefault("", now), _started.setdefault(operation, now)
    return now > min(started + OPERATION_SECONDS, first + TOTAL_SECONDS)


def assert_envelope(body: Any, where: str) -> None:
    """Anthropic's error envelope (anthropic-sdk-python ``types/shared/error_response.py``)."""
    assert isinstance(body, dict), f"{where}: not a JSON object: {body!r}"
    assert body.get("type") == "error", f"{where}: type is {body.get('type')!r}"
    error = body.get("error")
    assert isinstance(error, dict), f"{where}: no error object: {body!r}"
    assert error.get("type") in ERROR_TYPES, f"{where}: error.type {error.get('type')!r}"
    assert isinstance(error.get("message"), str), f"{where}: no error.message"
    assert error["message"], f"{where}: empty error.message"
    assert str(body.get("request_id", "")).startswith("req_"), (
        f"{where}: request_id {body.get('request_id')!r}"
    )


@schemathesis.check
def errors_are_anthropic_envelopes(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> None:
    """Every 4xx/5xx body and every ``event: error`` frame is the envelope; no response holds the upstream key."""
    text = response.content.decode("utf-8", "replace")
    for key in _upstream_key:
        assert key not in text, "the upstream key appears in a response body"
        assert key not in repr(response.headers), "the upstream key appears in a response header"
    if response.status_code >= 400:
        assert response.headers.get("content-type", [""])[0].startswith("application/json")
        assert_envelope(json.loads(text), f"HTTP {response.status_code}")
    elif response.headers.get("content-type", [""])[0].startswith("text/event-stream"):
        for name, data in parse_sse(text):
            if name == "error":
                assert_envelope(data, "event: error")


def upstream_answer(request: RecordedRequest) -> Behaviour:
    """An upstream answer that fits the request: a call of its first function tool, a web search, reasoning
    when asked for, else text; streamed when the gateway streams."""
    payload = request.json()
    tools = payload.get("tools") or []
    functions = [tool["name"] for tool in tools if tool.get("type") == "function"]
    if functions:
        events = function_call_events(functions[0], {"value": 1}, text="Calling a tool.")
    elif any(tool.get("type") == "web_search" for tool in tools):
        events = web_search_response_events("query", ["https://example.com/"], "Found it.")
    elif "reasoning" in payload:
        events = reasoning_response_events(["Thinking."], "Answer.")
    else:
        events = text_response_events("Hello from the fake upstream.")
    return sse_events(events) if payload.get("stream") else json_response(final_response(events))


@pytest.fixture(scope="module")
def contract_gateway(gateways: GatewayFactory) -> Gateway:
    """A gateway of its own (and, on Redis, a cache database of its own) that never locks 127.0.0.1 out: every
    fuzzed case is replayed without a key and with a wrong one, which must stay a 401 (not the failed-auth
    limit's 429), and must not lock out the other tests' gateways sharing the address."""
    extra = {"GATEWAY_AUTH_FAILURES_PER_MINUTE": "1000000"}
    if redis := gateways.base_env.get("REDIS_URL"):
        extra["REDIS_URL"] = redis_database(redis, RedisDatabase.CONTRACT)
    return gateways.get("contract", extra=extra)


@pytest.fixture
def answering_upstream(upstream: FakeUpstream, contract_gateway: Gateway) -> Iterator[FakeUpstream]:
    upstream.set_default(upstream_answer, path=RESPONSES_PATH)
    upstream.set_default(
        json_response({"object": "response.input_tokens", "input_tokens": 7}), path=INPUT_TOKENS_PATH
    )
    _upstream_key[:] = [contract_gateway.upstream_key]
    yield upstream
    _upstream_key.clear()


@schema.parametrize()
# The fixtures hold for every example of an operation on purpose: the gateway and its upstream are shared.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_response_keeps_the_published_contract(
    case: schemathesis.Case, contract_gateway: Gateway, answering_upstream: FakeUpstream
) -> None:
    if _past_deadline(case.operation.label):
        pytest.skip(f"{case.operation.label}: out of time, the cases left were not sent")
    case.call_and_validate(
        base_url=contract_gateway.base_url, headers={"x-api-key": contract_gateway.client_key}, timeout=30
    )
