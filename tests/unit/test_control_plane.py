"""The control plane through the API: upstreams and routes from the database, per-key limits and models,
usage records, and what upstreams teach the gateway. Upstreams are mocked by respx."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from typing import Any

import httpx
import httpx2
import pytest
import respx
from django.test import AsyncClient, override_settings

from streaming.control import capabilities, usage
from streaming.models import ClientKey, ModelRoute, Upstream, UsageRecord
from tests.unit.api_client import (
    BASE,
    BODY,
    FIXTURES,
    UPSTREAM_KEY,
    assert_envelope,
    create_client_key,
    fixture_json,
    keyed,
    post,
)

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_gateway_settings"),
]

AZURE = "https://azure.test/openai/v1"
TEXT = fixture_json("text_simple.response.json")


async def add_upstream(**fields: Any) -> Upstream:
    defaults = {"name": "azure", "base_url": AZURE, "api_key": "az-secret-key-123456"}
    return await Upstream.objects.acreate(**{**defaults, **fields})


def sse_body() -> bytes:
    return (FIXTURES / "text_simple.sse").read_bytes()


# --- upstreams and routes ----------------------------------------------------------------------------------


async def test_a_default_upstream_in_the_database_replaces_the_settings_one(api: AsyncClient) -> None:
    await add_upstream(is_default=True, extra_headers={"OpenAI-Project": "proj_1"})
    with respx.mock:
        route = respx.post(f"{AZURE}/responses").respond(json=TEXT)
        response = await post(api, BODY)

    assert response.status_code == 200, response.content
    sent = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer az-secret-key-123456"
    assert sent.headers["openai-project"] == "proj_1"


async def test_an_azure_style_upstream_gets_its_key_in_the_api_key_header(api: AsyncClient) -> None:
    await add_upstream(is_default=True, auth_scheme="api-key")
    with respx.mock:
        route = respx.post(f"{AZURE}/responses").respond(json=TEXT)
        await post(api, BODY)

    sent = route.calls.last.request
    assert sent.headers["api-key"] == "az-secret-key-123456"
    assert "authorization" not in sent.headers


async def test_a_disabled_default_upstream_leaves_the_settings_upstream_in_charge(api: AsyncClient) -> None:
    await add_upstream(is_default=True, enabled=False)
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(json=TEXT)
        await post(api, BODY)

    assert route.calls.last.request.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"


async def test_a_route_sends_matching_models_to_its_upstream_as_its_model(api: AsyncClient) -> None:
    azure = await add_upstream()
    await ModelRoute.objects.acreate(pattern="claude-sonnet-*", upstream=azure, upstream_model="gpt-5.2")
    with respx.mock:
        routed = respx.post(f"{AZURE}/responses").respond(json=TEXT)
        response = await post(api, BODY)

    assert response.status_code == 200
    assert json.loads(routed.calls.last.request.content)["model"] == "gpt-5.2"
    assert json.loads(response.content)["model"] == BODY["model"]


async def test_a_route_changed_in_the_admin_applies_to_the_next_request(api: AsyncClient) -> None:
    azure = await add_upstream()
    route = await ModelRoute.objects.acreate(pattern="claude-*", upstream=azure, upstream_model="gpt-5")
    with respx.mock:
        first = respx.post(f"{AZURE}/responses").respond(json=TEXT)
        settings_upstream = respx.post(f"{BASE}/responses").respond(json=TEXT)
        await post(api, BODY)
        route.enabled = False
        await route.asave()
        await post(api, BODY)

    assert (first.call_count, settings_upstream.call_count) == (1, 1)


@override_settings(GATEWAY_REFUSE_UNROUTED_MODELS=True)
async def test_unrouted_models_can_be_refused(api: AsyncClient) -> None:
    response = await post(api, {**BODY, "model": "gpt-4o-realtime"})

    assert_envelope(response, 404, "not_found_error")


# --- client keys: models and limits ------------------------------------------------------------------------


async def test_a_model_the_key_may_not_use_is_a_403() -> None:
    key = await create_client_key("haiku-only", "--allowed-models", "claude-*haiku*")
    with respx.mock:
        allowed = respx.post(f"{BASE}/responses").respond(json=TEXT)
        ok = await post(keyed(key), {**BODY, "model": "claude-haiku-4-5"})
        refused = await post(keyed(key), BODY)

    assert ok.status_code == 200
    body = assert_envelope(refused, 403, "permission_error")
    assert "claude-sonnet-4-6" in body["error"]["message"]
    assert allowed.call_count == 1


async def test_models_list_shows_what_the_routes_serve_and_the_key_may_use() -> None:
    await ModelRoute.objects.acreate(pattern="team-model", upstream_model="gpt-5")
    everything = await create_client_key("all")
    haiku = await create_client_key("haiku", "--allowed-models", "claude-*haiku*")

    listed = json.loads((await keyed(everything).get("/v1/models?limit=100")).content)
    limited = json.loads((await keyed(haiku).get("/v1/models")).content)

    assert [model["id"] for model in listed["data"]][:2] == ["team-model", "claude-opus-5-5"]
    assert [model["id"] for model in limited["data"]] == ["claude-haiku-4-5"]
    assert (await keyed(haiku).get("/v1/models/claude-opus-5-5")).status_code == 404


async def test_over_the_rpm_limit_is_a_429_with_retry_after() -> None:
    key = await create_client_key("slow", "--rpm-limit", "2")
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(json=TEXT)
        answers = [await post(keyed(key), BODY) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert_envelope(answers[2], 429, "rate_limit_error")
    assert 1 <= int(answers[2]["retry-after"]) <= 60


async def test_over_max_concurrent_streams_is_a_429_until_a_stream_ends() -> None:
    key = await create_client_key("one-stream", "--max-concurrent-streams", "1")
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=sse_body(), headers={"content-type": "text/event-stream"}
        )
        open_stream = await post(keyed(key), {**BODY, "stream": True})
        second = await post(keyed(key), {**BODY, "stream": True})
        b"".join([chunk async for chunk in open_stream.streaming_content])
        third = await post(keyed(key), {**BODY, "stream": True})
        b"".join([chunk async for chunk in third.streaming_content])

    assert (open_stream.status_code, second.status_code, third.status_code) == (200, 429, 200)
    assert_envelope(second, 429, "rate_limit_error")


async def test_a_failed_stream_gives_its_slot_back() -> None:
    key = await create_client_key("one-stream", "--max-concurrent-streams", "1")
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=httpx2.ConnectError("refused"))
        failed = await post(keyed(key), {**BODY, "stream": True})
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=sse_body(), headers={"content-type": "text/event-stream"}
        )
        retried = await post(keyed(key), {**BODY, "stream": True})
        b"".join([chunk async for chunk in retried.streaming_content])

    assert (failed.status_code, retried.status_code) == (529, 200)


# --- usage records ------------------------------------------------------------------------------------------


async def written() -> list[UsageRecord]:
    from asgiref.sync import sync_to_async

    await sync_to_async(usage.flush)()
    return [record async for record in UsageRecord.objects.order_by("id")]


@override_settings(GATEWAY_RECORD_USAGE=True)
async def test_usage_records_count_the_web_searches_an_answer_ran(api: AsyncClient) -> None:
    """The upstream bills each web search call: the record keeps ``usage.server_tool_use``'s count."""
    searching = {**BODY, "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(json=fixture_json("web_search.response.json"))
        message = json.loads((await post(api, searching)).content)
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=(FIXTURES / "web_search.sse").read_bytes(), headers={"content-type": "text/event-stream"}
        )
        streamed = await post(api, {**searching, "stream": True})
        b"".join([chunk async for chunk in streamed.streaming_content])

    json_record, stream_record = await written()
    assert message["usage"]["server_tool_use"]["web_search_requests"] == 1
    assert (json_record.web_search_requests, stream_record.web_search_requests) == (1, 1)


@override_settings(GATEWAY_RECORD_USAGE=True)
async def test_usage_records_carry_the_numbers_of_a_json_and_a_streamed_request(api: AsyncClient) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(json=TEXT)
        message = json.loads((await post(api, BODY)).content)
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(
            content=sse_body(), headers={"content-type": "text/event-stream"}
        )
        streamed = await post(api, {**BODY, "stream": True})
        raw = b"".join([chunk async for chunk in streamed.streaming_content])

    json_record, stream_record = await written()
    key = await ClientKey.objects.aget(name="unit")
    assert (json_record.client_key_id, json_record.key_name, json_record.endpoint) == (
        key.id,
        "unit",
        "messages",
    )
    assert (json_record.client_model, json_record.upstream, json_record.upstream_model) == (
        "claude-sonnet-4-6",
        "settings",
        "gpt-5",
    )
    assert (
        json_record.input_tokens,
        json_record.output_tokens,
        json_record.stop_reason,
        json_record.status,
    ) == (
        message["usage"]["input_tokens"],
        message["usage"]["output_tokens"],
        "end_turn",
        200,
    )
    final_usage = [
        json.loads(line[6:])["usage"] for line in raw.decode().splitlines() if '"message_delta"' in line
    ]
    assert stream_record.stream and stream_record.endpoint == "messages"
    assert (stream_record.input_tokens, stream_record.output_tokens) == (
        final_usage[-1]["input_tokens"],
        final_usage[-1]["output_tokens"],
    )
    assert stream_record.ttfb_ms is not None and stream_record.duration_ms is not None
    assert stream_record.correlation_id == streamed["X-Correlation-ID"]
    assert key.last_used_at is not None


@override_settings(GATEWAY_RECORD_USAGE=True)
async def test_a_refused_request_is_recorded_with_its_status_and_cause(api: AsyncClient) -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=httpx2.ConnectError("refused"))
        await post(api, BODY)

    [record] = await written()
    assert (record.status, record.error_type, record.cause) == (529, "overloaded_error", "connect")


async def test_recording_usage_never_waits_on_the_database(api: AsyncClient) -> None:
    """The sink only queues: with recording on and nobody flushing, nothing reaches the table."""
    with override_settings(GATEWAY_RECORD_USAGE=True, GATEWAY_USAGE_FLUSH_SECONDS=3600.0):
        with respx.mock:
            respx.post(f"{BASE}/responses").respond(json=TEXT)
            await post(api, BODY)
        assert await UsageRecord.objects.acount() == 0
        assert len(await written()) == 1


# --- learning what an upstream refuses ----------------------------------------------------------------------


def refusing(param: str, code: str = "unsupported_parameter") -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        field, _, sub = param.partition(".")
        if field in sent and (not sub or sub in sent[field]):
            error = {"message": f"Unsupported parameter: '{param}'.", "type": "invalid_request_error"}
            return httpx.Response(400, json={"error": {**error, "param": param, "code": code}})
        return httpx.Response(200, json=TEXT)

    return answer


async def test_a_refused_temperature_is_retried_without_and_then_never_sent(api: AsyncClient) -> None:
    await ModelRoute.objects.acreate(pattern="local-*", upstream_model="gpt-oss-120b")
    body = {**BODY, "model": "local-oss", "temperature": 0.3}
    with respx.mock:
        route = respx.post(f"{BASE}/responses").mock(side_effect=refusing("temperature"))
        first = await post(api, body)
        second = await post(api, body)

    assert (first.status_code, second.status_code) == (200, 200)
    sent = [json.loads(call.request.content).get("temperature") for call in route.calls]
    assert sent == [0.3, None, None]
    assert capabilities.learned("settings") == {"gpt-oss-120b": frozenset({"temperature"})}


async def test_what_is_learned_is_written_off_the_event_loop(
    api: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ModelRoute.objects.acreate(pattern="local-*", upstream_model="gpt-oss-120b")
    learn, threads = capabilities.learn, []

    def recording(*args: str) -> None:
        threads.append(threading.current_thread().name)
        learn(*args)

    monkeypatch.setattr(capabilities, "learn", recording)
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=refusing("temperature"))
        await post(api, {**BODY, "model": "local-oss", "temperature": 0.3})

    assert len(threads) == 1
    assert threads[0].startswith("gateway-db")  # Django's cache is synchronous: Redis I/O in the db thread


async def test_when_the_shared_cache_cannot_learn_the_request_is_still_answered(
    api: AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ModelRoute.objects.acreate(pattern="local-*", upstream_model="gpt-oss-120b")

    def unreachable(*args: str) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(capabilities, "learn", unreachable)
    with respx.mock:
        route = respx.post(f"{BASE}/responses").mock(side_effect=refusing("temperature"))
        response = await post(api, {**BODY, "model": "local-oss", "temperature": 0.3})

    assert response.status_code == 200
    assert [json.loads(call.request.content).get("temperature") for call in route.calls] == [0.3, None]


async def test_thinking_is_forwarded_to_a_model_no_profile_names(api: AsyncClient) -> None:
    await ModelRoute.objects.acreate(pattern="local-*", upstream_model="qwen3-coder")
    body = {
        **BODY,
        "model": "local-x",
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    }
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(json=TEXT)
        await post(api, body)

    assert json.loads(route.calls.last.request.content)["reasoning"] == {"effort": "low", "summary": "auto"}


async def test_a_refused_reasoning_effort_is_learned_per_model(api: AsyncClient) -> None:
    await ModelRoute.objects.acreate(pattern="local-*", upstream_model="llama-3")
    body = {
        **BODY,
        "model": "local-x",
        "max_tokens": 4096,
        "thinking": {"type": "adaptive", "display": "omitted"},
    }
    with respx.mock:
        route = respx.post(f"{BASE}/responses").mock(side_effect=refusing("reasoning.effort"))
        await post(api, body)
        await post(api, body)

    reasoning = [json.loads(call.request.content).get("reasoning") for call in route.calls]
    assert reasoning == [{"effort": "medium"}, None, None]


async def test_a_routes_explicit_profile_wins_over_what_was_learned(api: AsyncClient) -> None:
    await ModelRoute.objects.acreate(pattern="local-*", upstream_model="gpt-oss-120b", reasoning="off")
    capabilities.learn("settings", "gpt-oss-120b", "temperature")
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(json=TEXT)
        await post(api, {**BODY, "model": "local-x", "temperature": 0.3})

    assert json.loads(route.calls.last.request.content)["temperature"] == 0.3


async def test_a_400_about_something_else_is_not_retried(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(
            400, json={"error": {"message": "bad input", "param": "input", "code": "invalid_value"}}
        )
        response = await post(api, {**BODY, "temperature": 0.3})

    assert_envelope(response, 400, "invalid_request_error")
    assert route.call_count == 1


async def test_concurrent_requests_share_one_configuration_load(
    api: AsyncClient, database_loads: Counter[str]
) -> None:
    from streaming.control.registry import registry

    registry.reset()
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(json=TEXT)
        answers = await asyncio.gather(*(post(api, BODY) for _ in range(20)))

    assert {answer.status_code for answer in answers} == {200}
    assert database_loads["snapshots"] == 1
