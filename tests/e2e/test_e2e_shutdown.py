"""Graceful shutdown under uvicorn: on SIGTERM new connections are refused, streams in flight finish
within GATEWAY_SHUTDOWN_GRACE_SECONDS, and whatever is still running then ends cleanly (a stream with
one overloaded_error event after its last whole frame, a waiting request with 529), never mid-frame."""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import GatewayFactory
from tests.e2e.helpers import (
    Gateway,
    anthropic_headers,
    long_text_stream,
    parse_sse,
    start_gateway,
    wait_until,
)
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    RecordedRequest,
    slow_stream,
    stall,
    text_response_events,
)

GRACE = 3.0


def ask(text: str, *, stream: bool) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "stream": stream,
        "messages": [{"role": "user", "content": text}],
    }


def by_question(request: RecordedRequest) -> Behaviour:
    question = request.json()["input"][0]["content"][0]["text"]
    if question == "long":
        return long_text_stream()
    if question == "short":
        return slow_stream(text_response_events(["one", " two", " three", " four"]), interval=0.08)
    return stall(30)


def stream(gateway: Gateway, text: str) -> list[tuple[str | None, Any]]:
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/messages",
        json=ask(text, stream=True),
        headers=anthropic_headers(gateway.client_key),
        timeout=30,
    ) as response:
        assert response.status_code == 200
        return parse_sse(response.read())


def wait_for_answer(gateway: Gateway) -> httpx.Response:
    return httpx.post(
        f"{gateway.base_url}/v1/messages",
        json=ask("wait", stream=False),
        headers=anthropic_headers(gateway.client_key),
        timeout=30,
    )


@pytest.fixture
def stopping(gateways: GatewayFactory) -> Any:
    gateway = start_gateway(
        "stopping",
        env={**gateways.base_env, "GATEWAY_SHUTDOWN_GRACE_SECONDS": str(GRACE)},
        client_key=gateways.client_key,
        upstream_key=gateways.upstream_key,
        data_dir=gateways.data_dir,
        log_path=gateways.data_dir / "gateway-stopping.log",
        bind_itself=True,
    )
    yield gateway
    gateway.stop()


def test_sigterm_lets_streams_finish_and_ends_the_rest_cleanly(
    stopping: Gateway, upstream: FakeUpstream
) -> None:
    upstream.set_default(by_question)
    with ThreadPoolExecutor(3) as pool:
        long = pool.submit(stream, stopping, "long")
        short = pool.submit(stream, stopping, "short")
        waiting = pool.submit(wait_for_answer, stopping)
        assert wait_until(lambda: len(upstream.requests) == 3, timeout=5.0)
        time.sleep(0.2)  # each has its first bytes (the streams) or is waiting (the JSON request)

        assert stopping.process is not None
        stopping.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        time.sleep(0.3)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{stopping.base_url}/healthz", timeout=2)

        short_events, long_events, answer = short.result(), long.result(), waiting.result()
        ended = time.monotonic() - signalled

    assert [name for name, _ in short_events if name != "ping"][-2:] == ["message_delta", "message_stop"]
    assert "".join(data["delta"]["text"] for name, data in short_events if name == "content_block_delta") == (
        "one two three four"
    )
    names = [name for name, _ in long_events if name != "ping"]
    assert names[0] == "message_start" and names[-1] == "error" and names.count("error") == 1
    assert long_events[-1][1]["error"]["type"] == "overloaded_error"
    assert answer.status_code == 529 and answer.json()["error"]["type"] == "overloaded_error"
    assert GRACE - 0.5 <= ended <= GRACE + 3
    # uvicorn re-raises the signal it handled once it shut down cleanly, so the exit status is -SIGTERM.
    assert stopping.process.wait(timeout=10) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in stopping.log_since(0)
