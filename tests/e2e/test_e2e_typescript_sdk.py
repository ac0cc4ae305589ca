"""The official TypeScript SDK (``@anthropic-ai/sdk``) streams through the gateway: tests/node/ts_sdk_check.mjs."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

import pytest

from tests.e2e.helpers import Gateway, ProxiedRequest, RecordingProxy, answer, node_clients
from tests.fakes.upstream import (
    FakeUpstream,
    function_call_events,
    replay,
    sse_events,
    text_response_events,
    url_citation,
    web_search_response_events,
)

pytestmark = [pytest.mark.e2e, pytest.mark.node]

DOCS = "https://docs.djangoproject.com/en/5.2/topics/async/"
LINK = "([docs.djangoproject.com](https://docs.djangoproject.com/en/5.2/topics/async/?utm_source=openai))"
ANSWER = f"Django runs async views natively since 3.1 {LINK}."
DOCS_TITLE = "Asynchronous support | Django documentation"


def web_search_events() -> list[dict[str, Any]]:
    citation = url_citation(ANSWER, LINK, DOCS + "?utm_source=openai", DOCS_TITLE)
    return web_search_response_events("django async", [DOCS], ANSWER, [citation], search_id="ws_ts1")


@pytest.fixture(scope="module")
def ts_result(gateway: Gateway, fake_upstream: FakeUpstream) -> dict[str, Any]:
    """Run the script once: text, tool-call, failing and web search streams, then a web search without streaming."""
    node_dir = node_clients()
    fake_upstream.reset()
    fake_upstream.enqueue(
        sse_events(text_response_events(["Hello", " from", " the", " gateway", " ✓"])),
        sse_events(
            function_call_events("get_weather", {"city": "Paris"}, call_id="call_ts1", text="Checking.")
        ),
        replay("error_event"),
        answer(web_search_events()),
        answer(web_search_events()),
    )
    with RecordingProxy(gateway.base_url) as proxy:
        result = subprocess.run(
            ["node", str(node_dir / "ts_sdk_check.mjs")],
            cwd=node_dir,
            env={**os.environ, "GATEWAY_BASE_URL": proxy.url, "GATEWAY_API_KEY": gateway.client_key},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert result.stdout.strip(), f"no output; exit {result.returncode}\nstderr:\n{result.stderr}"
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert result.returncode == 0, json.dumps(data, indent=2)
    data["proxied"] = proxy.requests
    return data


def test_text_stream_deltas_and_final_text(ts_result: dict[str, Any]) -> None:
    text = ts_result["text"]

    assert text["deltas"] == ["Hello", " from", " the", " gateway", " ✓"]
    assert text["finalText"] == "Hello from the gateway ✓"


def test_text_final_message(ts_result: dict[str, Any]) -> None:
    message = ts_result["text"]["finalMessage"]

    assert (message["type"], message["role"], message["model"]) == (
        "message",
        "assistant",
        "claude-sonnet-4-6",
    )
    assert message["content"] == [{"type": "text", "text": "Hello from the gateway ✓"}]
    assert message["stop_reason"] == "end_turn"
    assert (message["usage"]["input_tokens"], message["usage"]["output_tokens"]) == (12, 10)


def test_tool_call_final_message(ts_result: dict[str, Any]) -> None:
    tool = ts_result["tool"]
    message = tool["finalMessage"]

    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]
    assert message["content"][1]["name"] == "get_weather"
    assert message["content"][1]["input"] == {"city": "Paris"}
    assert json.loads("".join(tool["partialJson"])) == {"city": "Paris"}
    assert message["stop_reason"] == "tool_use"


def test_mid_stream_error_is_thrown(ts_result: dict[str, Any]) -> None:
    failure = ts_result["error"]

    assert failure["raised"] is True
    assert failure["error"]["error"]["type"] == "rate_limit_error"


def test_typescript_sdk_posts_to_messages_with_its_key_as_a_bearer_token(
    ts_result: dict[str, Any], gateway: Gateway
) -> None:
    """SDK 1.12.0 sends ``apiKey`` as ``Authorization: Bearer`` and a newer ``anthropic-version``."""
    proxied: list[ProxiedRequest] = ts_result["proxied"]

    assert [(r.method, r.target, r.status) for r in proxied] == [("POST", "/v1/messages", 200)] * 5
    for request in proxied:
        key = request.headers.get("x-api-key") or request.headers["authorization"].removeprefix("Bearer ")
        assert key == gateway.client_key
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", request.headers["anthropic-version"])
    assert [request.json().get("stream", False) for request in proxied] == [True, True, True, True, False]


USE = {
    "type": "server_tool_use",
    "id": "srvtoolu_ts1",
    "name": "web_search",
    "input": {"query": "django async"},
}
CITATION = {
    "type": "web_search_result_location",
    "url": DOCS + "?utm_source=openai",
    "title": DOCS_TITLE,
    "encrypted_index": "",
    "cited_text": LINK,
}


def result_block(title: str) -> dict[str, Any]:
    result = {
        "type": "web_search_result",
        "url": DOCS,
        "title": title,
        "encrypted_content": "",
        "page_age": None,
    }
    return {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_ts1", "content": [result]}


def test_a_streamed_web_search_accumulates_into_anthropics_blocks(ts_result: dict[str, Any]) -> None:
    message = ts_result["webSearch"]["finalMessage"]

    assert message["content"] == [
        USE,
        result_block("docs.djangoproject.com/en/5.2/topics/async"),
        {"type": "text", "text": ANSWER, "citations": [CITATION]},
    ]
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    assert message["stop_reason"] == "end_turn"


def test_the_streamed_web_search_fires_the_sdks_citation_event(ts_result: dict[str, Any]) -> None:
    search = ts_result["webSearch"]

    assert search["citations"] == [CITATION]
    assert search["events"][:7] == [
        "message_start",
        "content_block_start",
        "input_json_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_stop",
        "content_block_start",
    ]
    assert "citations_delta" in search["events"]


def test_a_web_search_without_streaming_gives_the_same_blocks_titled_from_the_citation(
    ts_result: dict[str, Any],
) -> None:
    message = ts_result["webSearchCreate"]["message"]

    assert message["content"] == [
        USE,
        result_block(DOCS_TITLE),
        {"type": "text", "text": ANSWER, "citations": [CITATION]},
    ]
    assert message["usage"]["server_tool_use"]["web_search_requests"] == 1
