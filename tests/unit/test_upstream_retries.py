"""Transient upstream failures are retried before any byte reached the client, within a count and a time
budget, honouring retry-after; nothing else is retried."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import httpx2
import pytest
import respx
from django.test import AsyncClient, override_settings

from streaming import upstream
from streaming.transport import OpenAIUpstreamError, UpstreamConnectError, UpstreamTimeoutError
from streaming.transport.errors import UpstreamPoolFull
from tests.unit.api_client import BASE, BODY, FIXTURES, assert_envelope, fixture_json, post

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_gateway_settings", "_quick_backoff"),
]
TEXT = fixture_json("text_simple.response.json")


@pytest.fixture
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "BACKOFF_BASE", 0.01)


def status_error(status: int, **headers: str) -> OpenAIUpstreamError:
    return OpenAIUpstreamError(status_code=status, headers=headers)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 529])
def test_these_statuses_are_transient(status: int) -> None:
    assert upstream.retry_delay(status_error(status), 0) is not None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 504])
def test_these_statuses_are_not(status: int) -> None:
    assert upstream.retry_delay(status_error(status), 0) is None


def test_no_connection_is_transient_but_a_read_timeout_or_a_full_pool_is_not() -> None:
    read = UpstreamTimeoutError()
    read.phase = "read"
    connect = UpstreamTimeoutError()
    connect.phase = "connect"

    assert upstream.retry_delay(UpstreamConnectError(), 0) is not None
    assert upstream.retry_delay(connect, 0) is not None
    assert upstream.retry_delay(read, 0) is None
    assert upstream.retry_delay(UpstreamPoolFull(), 0) is None


def test_an_exhausted_quota_is_not_retried() -> None:
    quota = OpenAIUpstreamError(
        status_code=429, payload={"error": {"message": "quota", "code": "insufficient_quota"}}
    )

    assert upstream.retry_delay(quota, 0) is None


def test_backoff_doubles_with_jitter_and_a_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "BACKOFF_BASE", 0.25)

    delays = [upstream.retry_delay(status_error(503), attempt) for attempt in range(8)]

    for attempt, delay in enumerate(delays):
        full = min(upstream.BACKOFF_CAP, 0.25 * 2**attempt)
        assert delay is not None and full / 2 <= delay <= full


def test_retry_after_is_honoured_in_seconds_or_milliseconds() -> None:
    assert upstream.retry_delay(status_error(429, **{"retry-after": "3"}), 0) >= 3  # type: ignore[operator]
    assert upstream.retry_delay(status_error(429, **{"retry-after-ms": "1500"}), 0) >= 1.5  # type: ignore[operator]


async def test_a_503_then_an_answer_is_one_answer(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").mock(
            side_effect=[
                httpx.Response(503, json={"error": {"message": "busy"}}),
                httpx.Response(200, json=TEXT),
            ]
        )
        response = await post(api, BODY)

    assert response.status_code == 200
    assert route.call_count == 2


async def test_three_failures_are_three_attempts_then_the_error(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(502, json={"error": {"message": "bad gateway"}})
        response = await post(api, BODY)

    assert_envelope(response, 502, "api_error")
    assert route.call_count == 3


@override_settings(GATEWAY_UPSTREAM_RETRIES=0)
async def test_retries_can_be_turned_off(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(503, json={"error": {"message": "busy"}})
        await post(api, BODY)

    assert route.call_count == 1


@override_settings(GATEWAY_UPSTREAM_RETRY_SECONDS=1.0)
async def test_a_retry_after_beyond_the_budget_goes_back_to_the_client(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(
            429,
            json={"error": {"message": "slow down", "code": "rate_limit_exceeded"}},
            headers={"retry-after": "30"},
        )
        started = time.monotonic()
        response = await post(api, BODY)

    assert_envelope(response, 429, "rate_limit_error")
    assert response["retry-after"] == "30"
    assert route.call_count == 1 and time.monotonic() - started < 1


async def test_a_refused_connection_is_retried(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").mock(
            side_effect=[httpx2.ConnectError("refused"), httpx.Response(200, json=TEXT)]
        )
        response = await post(api, BODY)

    assert response.status_code == 200 and route.call_count == 2


async def test_a_client_error_is_never_retried(api: AsyncClient) -> None:
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(
            400, json={"error": {"message": "bad", "param": "input"}}
        )
        await post(api, BODY)

    assert route.call_count == 1


async def test_a_retried_stream_is_event_exact(api: AsyncClient) -> None:
    sse = (FIXTURES / "text_simple.sse").read_bytes()
    with respx.mock:
        respx.post(f"{BASE}/responses").respond(content=sse, headers={"content-type": "text/event-stream"})
        direct = await post(api, {**BODY, "stream": True})
        expected = b"".join([chunk async for chunk in direct.streaming_content])
    with respx.mock:
        route = respx.post(f"{BASE}/responses").mock(
            side_effect=[
                httpx.Response(503, json={"error": {"message": "busy"}}),
                httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"}),
            ]
        )
        retried = await post(api, {**BODY, "stream": True})
        received = b"".join([chunk async for chunk in retried.streaming_content])

    assert route.call_count == 2
    assert events(received) == events(expected)


def events(raw: bytes) -> list[Any]:
    """The frames' data without the message id (each response has its own)."""
    frames = []
    for line in raw.decode().splitlines():
        if line.startswith("data: "):
            data = json.loads(line[6:])
            if data.get("type") == "message_start":
                data["message"].pop("id")
            frames.append(data)
    return frames
