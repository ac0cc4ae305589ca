"""The relay: one client write per upstream read, pings while silent, upstream closed on every exit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from streaming.api.relay import EventStreamResponse, relay
from streaming.errors import GatewayError, OverloadedError, envelope
from streaming.translate.frames import PING, encode_event

pytestmark = pytest.mark.anyio


class EchoTranslator:
    """Turns each upstream event into one frame; ``stop`` ends the stream like a terminal event."""

    def __init__(self) -> None:
        self.done = False
        self.upstream_finished = False

    def feed(self, event: Any) -> list[bytes]:
        if event["data"] in ("stop", "cut"):
            self.done = True
            self.upstream_finished = event["data"] == "stop"
        return [f"event: echo\ndata: {event['data']}\n\n".encode()]

    def finish(self) -> list[bytes]:
        self.done = True
        return [b"event: eof\ndata: {}\n\n"]

    def fail(self, error: GatewayError) -> list[bytes]:
        self.done = True
        return [encode_event("error", envelope(error))]


class Upstream:
    """Scripted batches with optional pauses; records whether it was closed."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.closed = False
        self.read_to_the_end = False

    async def batches(self) -> AsyncGenerator[list[Any], None]:
        try:
            for step in self.script:
                if isinstance(step, float):
                    await asyncio.sleep(step)
                elif isinstance(step, Exception):
                    raise step
                else:
                    yield [{"event": "message", "data": item} for item in step]
            self.read_to_the_end = True
        finally:
            self.closed = True


def events(*items: str) -> bytes:
    """The first read, already translated (the view does that before the response starts)."""
    return b"".join(f"event: echo\ndata: {item}\n\n".encode() for item in items)


async def collect(upstream: Upstream, first: bytes, ping: float = 10.0) -> list[bytes]:
    chunks = relay(
        first, upstream.batches(), EchoTranslator(), ping_interval=ping, to_gateway_error=lambda exc: exc
    )
    return [chunk async for chunk in chunks]


async def test_all_events_of_one_read_go_out_in_one_write() -> None:
    upstream = Upstream(["a", "b", "c"], 0.05, ["stop"])
    chunks = await collect(upstream, events("0"))
    assert chunks == [
        b"event: echo\ndata: 0\n\n",
        b"event: echo\ndata: a\n\nevent: echo\ndata: b\n\nevent: echo\ndata: c\n\n",
        b"event: echo\ndata: stop\n\n",
    ]
    assert upstream.closed


async def test_reads_that_pile_up_while_the_client_is_busy_go_out_in_one_write() -> None:
    upstream = Upstream(["a"], ["b"], ["stop"])
    chunks = await collect(upstream, events("0"))
    assert chunks == [
        b"event: echo\ndata: 0\n\n",
        b"event: echo\ndata: a\n\nevent: echo\ndata: b\n\nevent: echo\ndata: stop\n\n",
    ]


async def test_silence_is_filled_with_pings_and_nothing_is_lost() -> None:
    upstream = Upstream(0.35, ["stop"])
    chunks = await collect(upstream, events("0"), ping=0.1)
    assert chunks[0] == b"event: echo\ndata: 0\n\n"
    assert chunks[-1] == b"event: echo\ndata: stop\n\n"
    assert 2 <= chunks.count(PING) <= 4


async def test_end_of_upstream_without_terminal_event_is_reported_by_the_translator() -> None:
    chunks = await collect(Upstream(["a"]), events("0"))
    assert b"".join(chunks).endswith(b"event: echo\ndata: a\n\nevent: eof\ndata: {}\n\n")


async def test_upstream_failure_mid_stream_becomes_an_error_frame() -> None:
    upstream = Upstream(["a"], OverloadedError("upstream unreachable"))
    stream = b"".join(await collect(upstream, events("0")))
    assert stream.startswith(b"event: echo\ndata: 0\n\nevent: echo\ndata: a\n\nevent: error\n")
    assert stream.endswith(b'"overloaded_error","message":"upstream unreachable"}}\n\n')
    assert upstream.closed


async def test_consumer_leaving_early_closes_the_upstream_at_once() -> None:
    tasks_before = len(asyncio.all_tasks())
    upstream = Upstream(["a"], 30.0, ["never"])
    chunks = relay(
        events("0"), upstream.batches(), EchoTranslator(), ping_interval=10, to_gateway_error=lambda e: e
    )
    assert await anext(chunks) == b"event: echo\ndata: 0\n\n"
    assert await anext(chunks) == b"event: echo\ndata: a\n\n"
    reader = asyncio.ensure_future(anext(chunks))
    await asyncio.sleep(0.05)
    reader.cancel()  # what Django does when the client disconnects
    with pytest.raises(asyncio.CancelledError):
        await reader
    await chunks.aclose()
    assert upstream.closed
    assert len(asyncio.all_tasks()) == tasks_before  # nothing left behind


async def test_django_consumes_the_relay_itself() -> None:
    async def body() -> AsyncGenerator[bytes, None]:
        yield b"x"

    stream = body()
    response = EventStreamResponse(stream)
    assert response.is_async
    assert response.__aiter__() is stream
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    await stream.aclose()


async def test_a_slow_client_makes_the_reader_wait_instead_of_buffering_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("streaming.api.relay.HIGH_WATER_BYTES", 100)
    read: list[int] = []

    async def batches() -> AsyncGenerator[list[Any], None]:
        for n in range(50):
            read.append(n)
            yield [{"event": "message", "data": "x" * 60}]

    chunks = relay(b"", batches(), EchoTranslator(), ping_interval=10, to_gateway_error=lambda e: e)
    await anext(chunks)
    await asyncio.sleep(0.05)  # the client is busy; the reader runs ahead only up to the high-water mark
    assert len(read) < 5
    await chunks.aclose()


async def test_after_the_upstreams_last_event_its_stream_is_read_to_the_end_for_connection_reuse() -> None:
    upstream = Upstream(["stop"], ["after the end"])
    chunks = await collect(upstream, events("0"))
    assert b"".join(chunks) == b"event: echo\ndata: 0\n\nevent: echo\ndata: stop\n\n"
    assert upstream.read_to_the_end


async def test_a_stream_cut_short_by_the_gateway_closes_the_upstream_without_reading_on() -> None:
    upstream = Upstream(["cut"], ["still talking"])
    chunks = await collect(upstream, events("0"))
    assert b"".join(chunks) == b"event: echo\ndata: 0\n\nevent: echo\ndata: cut\n\n"
    assert upstream.closed and not upstream.read_to_the_end


async def test_an_upstream_that_never_ends_after_its_last_event_is_closed_after_a_grace_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("streaming.api.relay.EOF_GRACE_SECONDS", 0.05)
    upstream = Upstream(["stop"], 30.0, ["never"])
    chunks = await asyncio.wait_for(collect(upstream, events("0")), 2)
    assert chunks[-1] == b"event: echo\ndata: stop\n\n"
    assert upstream.closed and not upstream.read_to_the_end


async def test_an_answer_complete_in_the_first_read_still_reads_the_upstream_to_its_end() -> None:
    upstream = Upstream(["after the end"])
    translator = EchoTranslator()
    translator.feed({"event": "message", "data": "stop"})  # the view translated the first read already
    chunks = relay(
        events("stop"), upstream.batches(), translator, ping_interval=10, to_gateway_error=lambda e: e
    )
    assert [chunk async for chunk in chunks] == [b"event: echo\ndata: stop\n\n"]
    assert upstream.read_to_the_end
