"""The relay: the first read before the 200, one client write per upstream read, pings while silent,
upstream closed and outcome completed on every exit."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from streaming.api.relay import QUEUED_WRITES, EventStreamResponse, Relay, relay, start_relay
from streaming.errors import BadGatewayError, GatewayError, OverloadedError, envelope
from streaming.outcome import Outcome, add_sink, remove_sink
from streaming.translate.frames import PING, encode_event

pytestmark = pytest.mark.anyio


class EchoTranslator:
    """Turns each upstream event into one frame; ``stop`` ends the stream like a terminal event, ``boom``
    as the first event is an upstream error before the message started."""

    def __init__(self) -> None:
        self.started = False
        self.done = False
        self.upstream_finished = False
        self.error: GatewayError | None = None
        self.stop_reason: str | None = None
        self.usage: dict[str, int] | None = None

    def feed(self, event: Any) -> list[bytes]:
        if event["data"] == "boom" and not self.started:
            return self.fail(OverloadedError("boom"))
        self.started = True
        if event["data"] in ("stop", "cut"):
            self.done = True
            self.upstream_finished = event["data"] == "stop"
            self.stop_reason = "end_turn"
            self.usage = {"input_tokens": 3, "output_tokens": 5}
        return [f"event: echo\ndata: {event['data']}\n\n".encode()]

    def finish(self) -> list[bytes]:
        self.done = True
        return [b"event: eof\ndata: {}\n\n"]

    def fail(self, error: GatewayError) -> list[bytes]:
        self.done = True
        self.error = error
        return [encode_event("error", envelope(error))]


class Upstream:
    """Scripted batches with optional pauses; records whether it was closed."""

    def __init__(self, *script: Any) -> None:
        self.script = list(script)
        self.closed = False
        self.read_to_the_end = False

    async def aclose(self) -> None:
        self.closed = True

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
    chunks = relay(first, upstream.batches(), EchoTranslator(), Outcome("messages"), ping_interval=ping)
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


async def test_reads_that_complete_at_once_go_out_together_and_a_waiting_read_sends_them_first() -> None:
    upstream = Upstream(["a"], ["b"], 0.05, ["c"], 0.05, ["stop"])
    chunks = await collect(upstream, events("0"))
    assert chunks == [
        b"event: echo\ndata: 0\n\n",
        b"event: echo\ndata: a\n\nevent: echo\ndata: b\n\n",
        b"event: echo\ndata: c\n\n",
        b"event: echo\ndata: stop\n\n",
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
    chunks = relay(events("0"), upstream.batches(), EchoTranslator(), Outcome("messages"), ping_interval=10)
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


async def test_a_stream_response_carries_its_relay_and_iterates_it_for_django() -> None:
    upstream = Upstream(["stop"])
    stream = Relay(events("0"), upstream.batches(), EchoTranslator(), Outcome("messages"), ping_interval=10)
    response = EventStreamResponse(stream)

    assert response.is_async
    assert response["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    assert response.claim() is stream
    assert [chunk async for chunk in response] == [
        b"event: echo\ndata: 0\n\n",
        b"event: echo\ndata: stop\n\n",
    ]


async def test_a_slow_client_makes_the_relay_wait_instead_of_reading_on() -> None:
    read: list[int] = []

    async def batches() -> AsyncGenerator[list[Any], None]:
        for n in range(50):
            await asyncio.sleep(0.001)  # each read waits for the network
            read.append(n)
            yield [{"event": "message", "data": "x" * 60}]

    chunks = relay(b"", batches(), EchoTranslator(), Outcome("messages"), ping_interval=10)
    await anext(chunks)
    await asyncio.sleep(0.05)  # the client is busy: the relay reads at most a queue's worth ahead
    assert len(read) <= QUEUED_WRITES + 2
    await chunks.aclose()


# --- written straight to ASGI (the gateway's own handler) ---------------------------------------------


class Client:
    """An ASGI ``send`` that records body messages and can be slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[dict[str, Any]] = []
        self.delay = delay

    async def send(self, message: dict[str, Any]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message)

    @property
    def bodies(self) -> list[bytes]:
        return [message["body"] for message in self.messages]


def direct(upstream: Upstream, first: bytes, outcome: Outcome | None = None, ping: float = 10.0) -> Relay:
    return Relay(
        first, upstream.batches(), EchoTranslator(), outcome or Outcome("messages"), ping_interval=ping
    )


async def test_written_straight_to_asgi_each_waiting_read_is_one_body_message_with_more_to_come() -> None:
    upstream = Upstream(0.01, ["a", "b"], 0.01, ["stop"])
    client = Client()

    await direct(upstream, events("0")).write_to(client.send)

    assert client.bodies == [
        b"event: echo\ndata: 0\n\n",
        b"event: echo\ndata: a\n\nevent: echo\ndata: b\n\n",
        b"event: echo\ndata: stop\n\n",
    ]
    assert all(
        message == {**message, "type": "http.response.body", "more_body": True} for message in client.messages
    )
    assert upstream.closed


async def test_a_finished_stream_is_freed_at_once_not_left_to_the_cyclic_collector() -> None:
    """A stream's objects (its relay, translator, upstream reads) go when it ends: left in a reference
    cycle, they would wait for a full collection, and with long streams that is long after."""
    gc.collect()
    debug = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        await direct(Upstream(["a"], 0.01, ["stop"]), events("0"), ping=0.005).write_to(Client().send)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, Relay | EchoTranslator)]
    finally:
        gc.set_debug(debug)
        gc.garbage.clear()

    assert left == []


async def test_written_straight_the_clients_pace_throttles_the_upstream_reads() -> None:
    read: list[float] = []

    async def batches() -> AsyncGenerator[list[Any], None]:
        for item in ("a", "b", "c", "stop"):
            await asyncio.sleep(0.001)  # each read waits for the network
            read.append(time.monotonic())
            yield [{"event": "message", "data": item}]

    await Relay(b"", batches(), EchoTranslator(), Outcome("messages"), ping_interval=10).write_to(
        Client(delay=0.05).send
    )

    assert all(later - earlier >= 0.045 for earlier, later in itertools.pairwise(read))


async def test_written_straight_silence_is_filled_with_pings() -> None:
    client = Client()

    await direct(Upstream(0.35, ["stop"]), events("0"), ping=0.1).write_to(client.send)

    assert (
        client.bodies[0] == b"event: echo\ndata: 0\n\n"
        and client.bodies[-1] == b"event: echo\ndata: stop\n\n"
    )
    assert 2 <= client.bodies.count(PING) <= 4


async def test_written_straight_an_upstream_failure_is_one_error_frame() -> None:
    client = Client()

    await direct(Upstream(["a"], OverloadedError("upstream unreachable")), events("0")).write_to(client.send)

    stream = b"".join(client.bodies)
    assert stream.startswith(b"event: echo\ndata: 0\n\nevent: echo\ndata: a\n\nevent: error\n")
    assert stream.count(b"event: error") == 1 and stream.endswith(b'upstream unreachable"}}\n\n')


async def test_written_straight_a_client_leaving_closes_the_upstream_and_is_client_gone() -> None:
    upstream = Upstream(["a"], 30.0, ["never"])
    outcome = Outcome("messages")
    client = Client()
    writing = asyncio.ensure_future(direct(upstream, events("0"), outcome).write_to(client.send))
    await asyncio.sleep(0.05)

    writing.cancel()  # what the handler does when the client disconnects
    with pytest.raises(asyncio.CancelledError):
        await writing

    assert upstream.closed and outcome.cause == "client_gone"


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
    chunks = relay(events("stop"), upstream.batches(), translator, Outcome("messages"), ping_interval=10)
    assert [chunk async for chunk in chunks] == [b"event: echo\ndata: stop\n\n"]
    assert upstream.read_to_the_end


# --- start_relay: the first read, before the 200 -----------------------------------------------------------


async def test_the_first_read_is_translated_before_the_response_exists() -> None:
    upstream = Upstream(["0", "1"], ["stop"])

    response = await start_relay(upstream, EchoTranslator(), Outcome("messages"), ping_interval=10)

    chunks = [chunk async for chunk in response]
    assert chunks[0] == b"event: echo\ndata: 0\n\nevent: echo\ndata: 1\n\n"
    assert upstream.closed


async def test_an_error_as_the_very_first_event_is_raised_and_the_upstream_closed() -> None:
    upstream = Upstream(["boom"], ["never read"])

    with pytest.raises(OverloadedError):
        await start_relay(upstream, EchoTranslator(), Outcome("messages"), ping_interval=10)

    assert upstream.closed


async def test_an_upstream_that_ends_before_any_event_is_a_bad_gateway() -> None:
    upstream = Upstream()

    with pytest.raises(BadGatewayError, match="without sending an event"):
        await start_relay(upstream, EchoTranslator(), Outcome("messages"), ping_interval=10)

    assert upstream.closed


# --- the outcome ---------------------------------------------------------------------------------------


@pytest.fixture
def completed() -> Any:
    seen: list[Outcome] = []
    add_sink(seen.append)
    yield seen
    remove_sink(seen.append)


async def test_a_finished_stream_completes_its_outcome_with_stop_reason_and_usage(completed: Any) -> None:
    outcome = Outcome("messages")
    await collect_with(Upstream(["a"], ["stop"]), outcome)

    assert completed == [outcome]
    assert (outcome.status, outcome.stop_reason, outcome.input_tokens, outcome.output_tokens) == (
        200,
        "end_turn",
        3,
        5,
    )
    assert outcome.error_type is None
    assert outcome.ttfb is not None and outcome.duration is not None and outcome.ttfb <= outcome.duration


async def test_a_mid_stream_upstream_failure_is_recorded_with_its_cause(completed: Any) -> None:
    outcome = Outcome("messages")
    await collect_with(Upstream(["a"], OverloadedError("gone")), outcome)

    assert (outcome.error_type, outcome.cause) == ("overloaded_error", "overloaded_error")


async def test_a_client_hanging_up_is_recorded_as_client_gone(completed: Any) -> None:
    outcome = Outcome("messages")
    upstream = Upstream(["a"], 30.0, ["never"])
    chunks = relay(events("0"), upstream.batches(), EchoTranslator(), outcome, ping_interval=10)
    await anext(chunks)
    await chunks.aclose()

    assert completed == [outcome]
    assert (outcome.status, outcome.cause) == (200, "client_gone")


async def test_a_response_dropped_before_django_iterated_it_still_closes_the_upstream(completed: Any) -> None:
    outcome = Outcome("messages")
    upstream = Upstream(["a"], 30.0, ["never"])
    response = await start_relay(upstream, EchoTranslator(), outcome, ping_interval=10)

    del response  # the client left between the view and the first write
    for _ in range(20):
        await asyncio.sleep(0.01)
        if upstream.closed:
            break

    assert upstream.closed
    assert completed == [outcome] and outcome.cause == "client_gone"


async def test_when_the_last_open_stream_ends_freed_memory_is_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streaming.api import memory
    from streaming.api import relay as relay_module

    monkeypatch.setattr(relay_module, "_open_streams", 0)
    asked: list[bool] = []
    monkeypatch.setattr(memory, "release_soon", lambda idle: asked.append(idle()))
    first = await start_relay(
        Upstream(["a"], ["stop"]), EchoTranslator(), Outcome("messages"), ping_interval=10
    )
    second = await start_relay(
        Upstream(["b"], ["stop"]), EchoTranslator(), Outcome("messages"), ping_interval=10
    )

    [chunk async for chunk in first]
    asked_while_one_is_open = list(asked)
    [chunk async for chunk in second]

    assert (asked_while_one_is_open, asked) == ([], [True])


async def collect_with(upstream: Upstream, outcome: Outcome) -> list[bytes]:
    response = await start_relay(upstream, EchoTranslator(), outcome, ping_interval=10)
    return [chunk async for chunk in response]


# --- the server's shutdown ------------------------------------------------------------------------------


@pytest.fixture
def _serving() -> Any:
    from streaming.api import draining

    draining.reset()
    yield
    draining.reset()


@pytest.mark.usefixtures("_serving")
async def test_at_the_end_of_the_shutdown_grace_a_stream_ends_with_one_error_after_its_last_whole_frame() -> (
    None
):
    from streaming.api import draining

    outcome = Outcome("messages")
    upstream = Upstream(["a"], 0.05, ["b"], 30.0, ["never"])
    chunks = relay(events("0"), upstream.batches(), EchoTranslator(), outcome, ping_interval=10)
    received = [await anext(chunks), await anext(chunks)]
    asyncio.get_running_loop().call_later(0.1, draining._end_all)

    received += [chunk async for chunk in chunks]

    stream = b"".join(received)
    assert stream.startswith(b"event: echo\ndata: 0\n\nevent: echo\ndata: a\n\n")
    assert stream.endswith(
        b'"overloaded_error","message":"The gateway is restarting; retry the request."}}\n\n'
    )
    assert stream.count(b"event: error") == 1
    assert upstream.closed and outcome.cause == "shutdown"


@pytest.mark.usefixtures("_serving")
async def test_a_request_still_waiting_at_the_end_of_the_grace_gets_529() -> None:
    from streaming.api import draining

    asyncio.get_running_loop().call_later(0.05, draining._end_all)
    with pytest.raises(OverloadedError, match="restarting"):
        async with draining.bounded_wait():
            await asyncio.sleep(10)


@pytest.mark.usefixtures("_serving")
async def test_a_wait_that_ends_in_time_is_untouched() -> None:
    from streaming.api import draining

    async with draining.bounded_wait():
        await asyncio.sleep(0.01)

    assert not draining.over()


@pytest.mark.usefixtures("_serving")
async def test_written_straight_the_end_of_the_shutdown_grace_ends_the_stream_with_one_error() -> None:
    from streaming.api import draining

    outcome = Outcome("messages")
    upstream = Upstream(["a"], 30.0, ["never"])
    client = Client()
    asyncio.get_running_loop().call_later(0.1, draining._end_all)

    await direct(upstream, events("0"), outcome).write_to(client.send)  # returns: not cancelled for good

    assert client.bodies[-1].startswith(b"event: error\n") and b"restarting" in client.bodies[-1]
    assert upstream.closed and outcome.cause == "shutdown"


async def test_a_client_leaving_while_a_burst_is_written_still_closes_the_read_it_stepped_into() -> None:
    """The flush before a waiting read is cancelled: that read, run up to its wait, is ended cleanly."""
    upstream = Upstream(["a"], ["b"], 30.0, ["never"])
    outcome = Outcome("messages")
    client = Client()
    flushing = asyncio.Event()

    async def slow_second_write(message: dict[str, Any]) -> None:
        if client.messages:
            flushing.set()
            await asyncio.sleep(30)
        client.messages.append(message)

    writing = asyncio.ensure_future(direct(upstream, events("0"), outcome).write_to(slow_second_write))
    await asyncio.wait_for(flushing.wait(), 2)
    writing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await writing

    assert upstream.closed and outcome.cause == "client_gone"
    assert client.bodies == [b"event: echo\ndata: 0\n\n"]
