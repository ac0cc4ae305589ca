"""The shared client's connection pool under churn, over real sockets (tests/fakes/upstream.py).

Issue 9: after a churn of cancelled requests a worker configured for 200 upstream connections could hold
only 194 streams, for good (encode/httpcore#1093 in httpcore 1.0.9). The trigger, reproduced here on a
5-slot pool: every slot holds an open stream and more requests are queued for a slot; the streams end
abruptly (their clients hang up, or the upstream drops or resets them) and the queued clients hang up a
few event-loop ticks later. A queued request that the pool had just handed a new connection, cancelled
before it starts connecting, left that connection in the pool, unconnected and owned by no request; a
stream cancelled while closing its dropped connection left that connection open and owned by no request.
Either way the slot was lost until a restart. ``DELAYS`` sweeps the ticks so the cancellations land in
each of those windows whatever the exact number of awaits in between. httpx2 (pydantic/httpx2#983, and
its lock that takes no checkpoint when free) keeps every slot.

Issue 9.2: a request that finds every connection busy queues at most ``GATEWAY_POOL_TIMEOUT`` (0 to 2 s),
then fails as ``UpstreamPoolFull`` (the client gets 529 ``overloaded_error``, not a 504 blaming the
upstream). Idle connections are bounded in number and age, so the pool's per-request scan stays short.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from typing import Any

import pytest

from streaming.transport import UpstreamPoolFull, stream_openai_events
from tests.fakes.upstream import FakeUpstream, held, replay, sse_frame, text_response_events

SLOTS = 5
POOL_TIMEOUT = 0.5
DELAYS = range(8)  # event-loop ticks between the streams ending and the queued clients hanging up
PAYLOAD = {"model": "gpt-4.1-mini", "input": "hi"}
FIRST_EVENT = sse_frame(text_response_events("Hi")[0])


@pytest.fixture
def upstream(upstream: FakeUpstream, settings: Any) -> FakeUpstream:
    """Every answer is a stream held open after its first event, on a 5-slot pool with a short pool wait."""
    settings.GATEWAY_MAX_CONNECTIONS = SLOTS
    settings.GATEWAY_MAX_KEEPALIVE_CONNECTIONS = SLOTS
    settings.GATEWAY_POOL_TIMEOUT = POOL_TIMEOUT
    upstream.set_default(held(FIRST_EVENT))
    return upstream


async def read_stream(first_event: asyncio.Event | None = None) -> None:
    """A client of the gateway: reads an upstream stream through the shared client until it ends."""
    async with aclosing(stream_openai_events(PAYLOAD)) as events:
        async for _event in events:
            if first_event is not None:
                first_event.set()


async def open_streams(count: int, within: float) -> tuple[list[asyncio.Task[None]], int]:
    """Start ``count`` streams at once; returns their tasks and how many had their first event in time."""
    first_events = [asyncio.Event() for _ in range(count)]
    tasks = [asyncio.create_task(read_stream(first)) for first in first_events]
    waiters = [asyncio.create_task(first.wait()) for first in first_events]
    _, pending = await asyncio.wait(waiters, timeout=within)
    for waiter in pending:
        waiter.cancel()
    return tasks, sum(first.is_set() for first in first_events)


async def hang_up(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def ticks(count: int) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def churn(upstream: FakeUpstream, ending: str, delay: int) -> None:
    """Fill every slot, queue as many requests again, end the streams, hang up the queued ``delay`` ticks later."""
    streams, started = await open_streams(SLOTS, within=2.0)
    assert started == SLOTS, "the pool was already short of slots before this round"
    queued = [asyncio.create_task(read_stream()) for _ in range(SLOTS)]
    await asyncio.sleep(
        0.02
    )  # long enough for the queued requests to wait on the pool, far below its timeout
    if ending == "hang-up":
        for task in streams:
            task.cancel()
        await ticks(delay)
        await hang_up(queued)
    else:
        upstream.cut_held(reset=ending == "reset")  # blocks the loop until the kernel has the FINs / RSTs
        await ticks(delay)
        await hang_up(queued + streams)  # the clients of the cut streams hang up at the same moment
    await asyncio.gather(*streams, return_exceptions=True)


async def usable_slots() -> int:
    """How many streams can be open at once now, each getting its connection within the pool timeout."""
    streams, started = await open_streams(SLOTS, within=POOL_TIMEOUT + 1.0)
    await hang_up(streams)
    return started


@pytest.mark.anyio
@pytest.mark.parametrize("ending", ["hang-up", "drop", "reset"])
async def test_every_slot_is_usable_again_after_a_churn_of_cancelled_requests(
    upstream: FakeUpstream, ending: str
) -> None:
    for delay in DELAYS:
        await churn(upstream, ending, delay)

        assert await usable_slots() == SLOTS, f"slots lost when queued clients hung up {delay} ticks after"


# --- a full pool answers fast; idle connections do not pile up -------------------------------------------


@pytest.mark.anyio
async def test_a_request_finding_every_connection_busy_fails_as_pool_full_after_the_pool_timeout(
    upstream: FakeUpstream,
) -> None:
    streams, _ = await open_streams(SLOTS, within=2.0)
    started = time.monotonic()

    with pytest.raises(UpstreamPoolFull):
        await read_stream()

    assert POOL_TIMEOUT <= time.monotonic() - started < POOL_TIMEOUT + 0.5
    await hang_up(streams)


@pytest.mark.anyio
async def test_with_a_zero_pool_timeout_a_full_pool_fails_at_once(
    upstream: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_POOL_TIMEOUT = 0
    streams, _ = await open_streams(SLOTS, within=2.0)
    started = time.monotonic()

    with pytest.raises(UpstreamPoolFull):
        await read_stream()

    assert time.monotonic() - started < 0.1
    await hang_up(streams)


@pytest.mark.anyio
async def test_a_queued_request_gets_the_connection_a_finished_stream_frees(upstream: FakeUpstream) -> None:
    streams, _ = await open_streams(SLOTS, within=2.0)
    queued_first_event = asyncio.Event()
    queued = asyncio.create_task(read_stream(queued_first_event))
    await asyncio.sleep(0.05)

    await hang_up(streams[:1])

    await asyncio.wait_for(queued_first_event.wait(), timeout=POOL_TIMEOUT)
    await hang_up([queued, *streams[1:]])


async def read_answers(count: int) -> None:
    await asyncio.gather(*(read_stream() for _ in range(count)))


@pytest.mark.anyio
async def test_idle_connections_beyond_the_keepalive_limit_are_closed(
    upstream: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_MAX_KEEPALIVE_CONNECTIONS = 2
    upstream.set_default(replay("text_simple"))
    await read_answers(SLOTS)
    first_ports = {request.client_port for request in upstream.wait_for_requests(SLOTS)}

    await read_answers(SLOTS)

    second_ports = {request.client_port for request in upstream.wait_for_requests(2 * SLOTS)[SLOTS:]}
    assert len(first_ports) == SLOTS
    assert len(first_ports & second_ports) == 2


@pytest.mark.anyio
async def test_an_idle_connection_is_closed_after_the_keepalive_expiry(
    upstream: FakeUpstream, settings: Any
) -> None:
    settings.GATEWAY_KEEPALIVE_EXPIRY = 0.2
    upstream.set_default(replay("text_simple"))
    await read_answers(1)
    await read_answers(1)  # within the expiry: the same connection
    await asyncio.sleep(0.3)

    await read_answers(1)

    ports = [request.client_port for request in upstream.wait_for_requests(3)]
    assert ports[0] == ports[1] != ports[2]
