"""What an operator sees of a running gateway: one JSON log line per request and the /metrics page, for a
streamed request, a failed one and a client that hung up (several workers would report together through
PROMETHEUS_MULTIPROC_DIR, which this gateway uses too)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.conftest import GatewayFactory, make_client
from tests.e2e.helpers import Gateway, hang_up_after_first_delta, long_text_stream, wait_until
from tests.fakes.upstream import FakeUpstream, error, sse_events, text_response_events
from tests.servers import RedisDatabase, redis_database

TOKEN = "metrics-scrape-token-for-tests"
REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}


@pytest.fixture(scope="module")
def observed(gateways: GatewayFactory, tmp_path_factory: pytest.TempPathFactory) -> Gateway:
    multiproc = tmp_path_factory.mktemp("prometheus")
    return gateways.get(
        "observed",
        extra={
            "GATEWAY_METRICS_TOKEN": TOKEN,
            "GATEWAY_LOG_FORMAT": "json",
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        },
    )


@pytest.fixture
def sdk(observed: Gateway) -> Iterator[anthropic.Anthropic]:
    with make_client(observed) as client:
        yield client


def request_lines(gateway: Gateway, offset: int) -> list[dict[str, Any]]:
    lines = []
    for line in gateway.log_since(offset).splitlines():
        if line.startswith("{"):
            document = json.loads(line)
            if document.get("logger") == "streaming.requests":
                lines.append(document)
    return lines


def scrape(gateway: Gateway) -> dict[str, float]:
    page = httpx.get(f"{gateway.base_url}/metrics", headers={"authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert page.status_code == 200
    values = {}
    for line in page.text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_a_streamed_a_failed_and_an_abandoned_request_each_log_one_line_and_count(
    observed: Gateway, sdk: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    offset = observed.log_size()
    upstream.enqueue(sse_events(text_response_events("Hello there")))
    with sdk.messages.stream(**REQUEST) as stream:
        stream.get_final_message()
    upstream.enqueue(error(500, "boom"))
    with pytest.raises(anthropic.InternalServerError):
        sdk.messages.create(**REQUEST)
    upstream.enqueue(long_text_stream())
    hang_up_after_first_delta(observed)

    assert wait_until(lambda: len(request_lines(observed, offset)) >= 3, timeout=5.0)
    streamed, failed, abandoned = request_lines(observed, offset)
    assert (streamed["stream"], streamed["status"], streamed["stop_reason"]) == (True, 200, "end_turn")
    assert streamed["output_tokens"] > 0 and streamed["ttfb_ms"] <= streamed["duration_ms"]
    assert streamed["key"] == "e2e" and streamed["upstream_model"] == "gpt-5"
    assert (failed["status"], failed["error_type"], failed["cause"]) == (502, "api_error", "upstream_status")
    assert (abandoned["status"], abandoned["cause"]) == (200, "client_gone")
    assert all(line["correlation_id"] for line in (streamed, failed, abandoned))
    assert observed.upstream_key not in observed.log_since(offset)

    values = scrape(observed)
    model = 'model="claude-sonnet-4-6"'
    assert values[f'gateway_requests_total{{endpoint="messages",{model},status="200"}}'] >= 2
    assert values[f'gateway_requests_total{{endpoint="messages",{model},status="502"}}'] >= 1
    assert values['gateway_upstream_errors_total{kind="upstream_status"}'] >= 1
    assert values['gateway_client_disconnects_total{endpoint="messages"}'] >= 1
    assert values['gateway_time_to_first_byte_seconds_count{endpoint="messages",stream="true"}'] >= 2
    assert values[f'gateway_tokens_total{{direction="output",{model}}}'] > 0
    assert values["gateway_open_streams"] == 0


def test_the_metrics_page_needs_the_token(observed: Gateway) -> None:
    assert httpx.get(f"{observed.base_url}/metrics", timeout=10).status_code == 401
    wrong = httpx.get(f"{observed.base_url}/metrics", headers={"authorization": "Bearer nope"}, timeout=10)
    assert wrong.status_code == 401


def test_metrics_are_off_without_a_token(gateway: Gateway) -> None:
    assert httpx.get(f"{gateway.base_url}/metrics", timeout=10).status_code == 404


@pytest.fixture(scope="module")
def flooded(gateways: GatewayFactory) -> Gateway:
    """A gateway of its own (and, on Redis, a cache database of its own):
    the flood blocks 127.0.0.1."""
    extra = {"GATEWAY_LOG_FORMAT": "json"}
    if redis := gateways.base_env.get("REDIS_URL"):
        extra["REDIS_URL"] = redis_database(redis, RedisDatabase.OBSERVABILITY_FLOOD)
    return gateways.get("flooded", extra=extra)


def test_a_flood_of_wrong_keys_is_cheap_and_logs_one_line(flooded: Gateway) -> None:
    """Past GATEWAY_AUTH_FAILURES_PER_MINUTE (60) failures, an address gets 429 without any key lookup."""
    if time.time() % 60 > 50:  # the per-address count is per clock minute: all 300 in one window
        time.sleep(61 - time.time() % 60)
    offset = flooded.log_size()
    started = time.monotonic()
    with httpx.Client(base_url=flooded.base_url, timeout=10) as http:
        statuses = [
            http.post("/v1/messages", json=REQUEST, headers={"x-api-key": f"wrong-{n}"}).status_code
            for n in range(300)
        ]

    took = time.monotonic() - started
    assert set(statuses[:60]) == {401} and set(statuses[61:]) == {429}
    lines = [line for line in flooded.log_since(offset).splitlines() if line.strip()]
    assert len(lines) <= 2, lines[:5]
    print(f"300 wrong keys in {took:.2f} s ({took / 300 * 1000:.1f} ms each), {len(lines)} log line(s)")
