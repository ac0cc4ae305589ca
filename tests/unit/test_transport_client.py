"""The shared client and the stream over real sockets, against the fake upstream (tests/fakes/upstream.py)."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx2
import pytest

from streaming.transport import (
    UpstreamConnectError,
    UpstreamStreamError,
    UpstreamTimeoutError,
    aclose_clients,
    create_openai_response,
    get_client,
    openai_event_batches,
    settings_upstream,
    stream_openai_events,
)
from streaming.transport.sse_decoder import SSEDecoder
from tests.fakes.upstream import (
    FakeUpstream,
    drop,
    final_response,
    fixture_bytes,
    json_response,
    replay,
    slow_stream,
    stall,
    text_response_events,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
UPSTREAM_FIXTURES = sorted(p.stem for p in FIXTURES.glob("*.sse") if not p.name.endswith(".anthropic.sse"))
PAYLOAD = {"model": "gpt-4.1-mini", "input": "hi"}


def first_events(fixture: str, count: int) -> bytes:
    """The fixture's first ``count`` events, as bytes."""
    data = fixture_bytes(fixture)
    end = 0
    for _ in range(count):
        end = data.index(b"\n\n", end) + 2
    return data[:end]


def whole_decode(data: bytes) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    return [*decoder.feed(data), *decoder.flush()]


@pytest.mark.anyio
async def test_one_client_per_loop_is_shared() -> None:
    assert get_client() is get_client()


def test_each_loop_gets_its_own_client_and_it_is_closed_when_the_loop_ends() -> None:
    async def current() -> httpx2.AsyncClient:
        return get_client()

    first = asyncio.run(current())
    second = asyncio.run(current())

    assert first is not second
    assert first.is_closed
    assert second.is_closed


@pytest.mark.anyio
async def test_aclose_clients_closes_the_loops_client_and_a_new_one_follows() -> None:
    client = get_client()

    await aclose_clients()

    assert client.is_closed
    assert get_client() is not client


@pytest.mark.anyio
async def test_requests_in_one_loop_reuse_the_pooled_connection(upstream: FakeUpstream) -> None:
    upstream.set_default(replay("text_simple"))

    for _ in range(3):
        async with aclosing(stream_openai_events(PAYLOAD)) as events:
            async for _event in events:
                pass

    assert len({request.client_port for request in upstream.wait_for_requests(3)}) == 1


@pytest.mark.anyio
@pytest.mark.parametrize("fixture", UPSTREAM_FIXTURES)
async def test_fixture_replayed_in_small_chunks_arrives_intact(upstream: FakeUpstream, fixture: str) -> None:
    upstream.enqueue(replay(fixture, chunk_size=5))

    events = [event async for event in stream_openai_events(PAYLOAD)]

    assert events == whole_decode(fixture_bytes(fixture))


@pytest.mark.anyio
async def test_each_upstream_chunk_becomes_its_own_batch(upstream: FakeUpstream) -> None:
    upstream.enqueue(replay("text_simple", delay=0.01))

    batches = [batch async for batch in openai_event_batches(PAYLOAD, settings_upstream())]

    assert [len(batch) for batch in batches] == [1] * len(whole_decode(fixture_bytes("text_simple")))


@pytest.mark.anyio
async def test_stream_request_body_has_stream_true(upstream: FakeUpstream) -> None:
    upstream.enqueue(replay("text_simple"))

    [_ async for _ in stream_openai_events(PAYLOAD)]

    assert upstream.wait_for_requests(1)[0].json() == {**PAYLOAD, "stream": True}


@pytest.mark.anyio
async def test_create_over_real_sockets_returns_the_body(upstream: FakeUpstream) -> None:
    body = final_response(text_response_events("Hello"))
    upstream.enqueue(json_response(body))

    assert await create_openai_response(PAYLOAD, settings_upstream()) == body


@pytest.mark.anyio
async def test_silent_upstream_hits_the_read_timeout(upstream: FakeUpstream, settings: Any) -> None:
    settings.GATEWAY_READ_TIMEOUT = 0.2
    upstream.enqueue(stall(5.0))
    started = time.monotonic()

    with pytest.raises(UpstreamTimeoutError, match="read timeout"):
        [_ async for _ in stream_openai_events(PAYLOAD)]

    assert time.monotonic() - started < 2.0


@pytest.mark.anyio
async def test_upstream_going_silent_mid_stream_hits_the_read_timeout(
    upstream: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_READ_TIMEOUT = 0.2
    upstream.enqueue(stall(5.0, after=first_events("text_simple", 2)))
    received = []

    with pytest.raises(UpstreamTimeoutError):
        async for event in stream_openai_events(PAYLOAD):
            received.append(event)

    assert len(received) == 2


@pytest.mark.anyio
async def test_refused_connection_is_a_connect_error(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.OPENAI_API_KEY = "sk-test-0123456789abcdefghij"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"

    with pytest.raises(UpstreamConnectError) as caught:
        await create_openai_response(PAYLOAD, settings_upstream())

    assert str(port) not in str(caught.value)


@pytest.mark.anyio
async def test_connection_dropped_mid_stream_is_a_stream_error(upstream: FakeUpstream) -> None:
    upstream.enqueue(drop(first_events("text_simple", 3)))
    received = []

    with pytest.raises(UpstreamStreamError):
        async for event in stream_openai_events(PAYLOAD):
            received.append(event)

    assert len(received) == 3


@pytest.mark.anyio
async def test_consumer_closing_the_stream_frees_the_upstream_at_once(upstream: FakeUpstream) -> None:
    upstream.enqueue(slow_stream(interval=0.5))

    async with aclosing(openai_event_batches(PAYLOAD, settings_upstream())) as batches:
        await anext(batches)
        closed_at = time.monotonic()

    assert await asyncio.to_thread(upstream.wait_for_disconnect, 2.0, since=closed_at) < 0.5


@pytest.mark.anyio
async def test_cancelled_consumer_frees_the_upstream_at_once(upstream: FakeUpstream) -> None:
    upstream.enqueue(slow_stream(interval=0.5))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in stream_openai_events(PAYLOAD):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    cancelled_at = time.monotonic()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(upstream.wait_for_disconnect, 2.0, since=cancelled_at) < 0.5
