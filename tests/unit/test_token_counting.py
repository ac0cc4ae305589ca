"""count_tokens: the upstream's counting endpoint when it has one, an offline estimate otherwise."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest
import respx
from django.test import override_settings

from streaming import upstream
from streaming.control import capabilities
from streaming.control.registry import Snapshot
from streaming.control.routing import route_for
from streaming.translate.token_estimate import estimate_input_tokens
from streaming.transport import SETTINGS_UPSTREAM_NAME, OpenAIUpstreamError

BASE = "http://upstream.test/v1"
PAYLOAD = {
    "model": "gpt-5",
    "instructions": "Be brief.",
    "input": [{"role": "user", "content": "Hello there"}],
}


async def count_input_tokens(payload: dict[str, Any]) -> int:
    """Count through the one upstream-calling module, routed by the settings (read now) with what the
    settings' upstream taught so far (as a worker's registry snapshot would hold it)."""
    snapshot = Snapshot(
        "test", learned={SETTINGS_UPSTREAM_NAME: capabilities.learned(SETTINGS_UPSTREAM_NAME)}
    )
    return await upstream.count_tokens(route_for("gpt-5", snapshot), payload)


def test_estimate_grows_with_text_and_counts_images_and_tools() -> None:
    small = estimate_input_tokens({"input": [{"role": "user", "content": "hi"}]})
    big = estimate_input_tokens({"input": [{"role": "user", "content": "hi " * 400}]})
    image = estimate_input_tokens(
        {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:..."}]}]}
    )
    tools = estimate_input_tokens(
        {"input": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "name": "x" * 400}]}
    )
    assert 0 < small < big
    assert image >= 1000
    assert tools > small + 50


@pytest.mark.anyio
@override_settings(OPENAI_BASE_URL=BASE, OPENAI_API_KEY="sk-test", GATEWAY_COUNT_TOKENS="auto")
async def test_upstream_count_is_used_when_available() -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses/input_tokens").respond(
            json={"object": "response.input_tokens", "input_tokens": 42}
        )
        assert await count_input_tokens(PAYLOAD) == 42
    assert json.loads(route.calls.last.request.content) == PAYLOAD


@pytest.mark.anyio
@override_settings(OPENAI_BASE_URL=BASE, OPENAI_API_KEY="sk-test", GATEWAY_COUNT_TOKENS="auto")
async def test_upstream_without_counting_endpoint_falls_back_and_is_not_asked_again() -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses/input_tokens").respond(404, json={"error": {"message": "nope"}})
        first = await count_input_tokens(PAYLOAD)
        second = await count_input_tokens(PAYLOAD)
    assert first == second == estimate_input_tokens(PAYLOAD)
    assert route.call_count == 1


@pytest.mark.anyio
@override_settings(OPENAI_BASE_URL=BASE, OPENAI_API_KEY="sk-test", GATEWAY_COUNT_TOKENS="local")
async def test_local_mode_never_calls_upstream() -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{BASE}/responses/input_tokens").respond(json={"input_tokens": 1})
        assert await count_input_tokens(PAYLOAD) == estimate_input_tokens(PAYLOAD)
    assert route.call_count == 0


@pytest.mark.anyio
@override_settings(OPENAI_BASE_URL=BASE, OPENAI_API_KEY="sk-test", GATEWAY_COUNT_TOKENS="upstream")
async def test_upstream_mode_reports_upstream_failures() -> None:
    with respx.mock:
        respx.post(f"{BASE}/responses/input_tokens").mock(side_effect=httpx2.ConnectError("refused"))
        with pytest.raises(OpenAIUpstreamError):
            await count_input_tokens(PAYLOAD)


@pytest.mark.anyio
@override_settings(OPENAI_BASE_URL=BASE, OPENAI_API_KEY=None, GATEWAY_COUNT_TOKENS="auto")
async def test_without_an_upstream_key_auto_mode_estimates_locally() -> None:
    assert await count_input_tokens(PAYLOAD) == estimate_input_tokens(PAYLOAD)
