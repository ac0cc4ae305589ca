"""Drive one upstream event stream through a translator to the client, with pings and clean shutdown.

The relay owns all of a stream's translation. ``start_relay`` reads and translates the upstream's first
read before the 200 goes out, so a stream whose very first event is an error becomes a plain HTTP error.
After that, each upstream read becomes at most one write to the client: all the events that read
produced are translated and joined, never held back. While the upstream is silent the client gets an
Anthropic ``ping`` every ``PING_INTERVAL`` seconds so idle timers (proxies, Claude Code) don't fire.
When the client goes away Django cancels the response task and closes this generator: the ``finally``
closes the upstream request at once and completes the request's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

from django.http import StreamingHttpResponse

from streaming.api import draining
from streaming.error_map import client_error, failure_cause
from streaming.errors import BadGatewayError, GatewayError
from streaming.observability import metrics
from streaming.outcome import Outcome
from streaming.translate.frames import PING
from streaming.translate.types import StopReason, Usage
from streaming.transport import SSEEvent


class Translator(Protocol):
    """What the relay needs from a stream translator (streaming.translate.stream.StreamTranslator)."""

    @property
    def started(self) -> bool: ...

    @property
    def done(self) -> bool: ...

    @property
    def upstream_finished(self) -> bool: ...

    @property
    def error(self) -> GatewayError | None: ...

    @property
    def stop_reason(self) -> StopReason | None: ...

    @property
    def usage(self) -> Usage | None: ...

    def feed(self, event: SSEEvent) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def fail(self, error: GatewayError) -> list[bytes]: ...


class UpstreamStream(Protocol):
    """What the relay needs from an opened upstream stream (streaming.transport.OpenAIStream)."""

    def batches(self) -> AsyncGenerator[list[SSEEvent], None]: ...

    async def aclose(self) -> None: ...


class EventStreamResponse(StreamingHttpResponse):
    """A ``text/event-stream`` response whose async iterator Django consumes directly.

    Django's ``StreamingHttpResponse.__aiter__`` wraps the content in two more async generators and does
    not close it explicitly; handing Django our generator lets its ``aclosing()`` close it (and so the
    upstream) the moment the client disconnects. A response dropped before Django began to iterate it
    (the client left between the view and the first write) runs ``abandoned`` on its loop instead.
    """

    def __init__(self, content: AsyncIterator[bytes], *, abandoned: Any = None, **kwargs: Any) -> None:
        super().__init__(content, content_type="text/event-stream; charset=utf-8", **kwargs)
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"
        self._abandoned = (
            weakref.finalize(self, _run_on_loop, asyncio.get_running_loop(), abandoned)
            if abandoned is not None
            else None
        )

    _iterator: AsyncIterator[bytes]  # set by Django's streaming_content setter; absent from django-stubs

    def __aiter__(self) -> AsyncIterator[bytes]:
        if self._abandoned is not None:
            self._abandoned.detach()  # iterated from now on: the generator's own ``finally`` cleans up
        iterator: AsyncIterator[bytes] = self._iterator
        return iterator


def _run_on_loop(loop: asyncio.AbstractEventLoop, cleanup: Any) -> None:
    """Schedule ``cleanup()`` (a coroutine function) on ``loop``, from whatever thread collects garbage."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(lambda: loop.create_task(cleanup()))


def translate_batch(translator: Translator, batch: list[SSEEvent]) -> bytes:
    """The client bytes for one upstream read: every event it produced, joined for one write."""
    frames: list[bytes] = []
    for event in batch:
        frames += translator.feed(event)
        if translator.done:
            break
    return b"".join(frames)


# Why the relay's writer wakes up.
_DATA, _PING, _SHUTDOWN = "data", "ping", "shutdown"
# Translated bytes buffered for a slow client before the upstream reader waits for it to catch up.
HIGH_WATER_BYTES = 1 << 20
# After the upstream's terminal event, how long to wait for its EOF (normally already there).
EOF_GRACE_SECONDS = 0.5


async def read_to_eof(batches: AsyncGenerator[list[SSEEvent], None]) -> None:
    """Read an upstream stream to its end so its connection goes back to the pool, not closed.

    Closing a response before its last chunk forces a new TCP (and TLS) handshake on the next request.
    """
    with contextlib.suppress(Exception):
        async with asyncio.timeout(EOF_GRACE_SECONDS):
            async for _ in batches:
                pass


def _complete(outcome: Outcome, translator: Translator, *, client_gone: bool) -> None:
    """The stream's outcome from what the translator saw (a 200 already went out)."""
    if outcome.completed:
        return
    metrics.stream_closed()
    if translator.usage is not None:
        outcome.set_usage(translator.usage)
    outcome.stop_reason = translator.stop_reason
    error = translator.error
    if error is not None:
        outcome.fail(200, error.error_type, outcome.cause or "mid_stream_error")
    elif client_gone and not translator.done:
        outcome.fail(200, "client_gone", "client_gone")
    outcome.complete(200)


async def start_relay(
    stream: UpstreamStream, translator: Translator, outcome: Outcome, *, ping_interval: float
) -> EventStreamResponse:
    """The client's event-stream response, after the upstream's first read was translated.

    Failures until then (the upstream closing at once, an error as its very first event, a broken
    connection) are raised, so the client gets a plain HTTP error rather than a 200 stream with an error
    inside.
    """
    batches = stream.batches()
    try:
        first = translate_batch(translator, await anext(batches))
        if translator.error is not None and not translator.started:
            raise translator.error
    except StopAsyncIteration:
        raise BadGatewayError("The upstream closed the stream without sending an event.") from None
    except BaseException:
        await batches.aclose()
        await stream.aclose()
        raise

    metrics.stream_opened()

    async def abandoned() -> None:
        await batches.aclose()
        await stream.aclose()
        _complete(outcome, translator, client_gone=True)

    return EventStreamResponse(
        relay(first, batches, translator, outcome, ping_interval=ping_interval), abandoned=abandoned
    )


async def relay(
    first: bytes,
    batches: AsyncGenerator[list[SSEEvent], None],
    translator: Translator,
    outcome: Outcome,
    *,
    ping_interval: float,
) -> AsyncIterator[bytes]:
    """Client-bound SSE bytes, starting with ``first`` (the translated first upstream read).

    One reader task pulls upstream reads and translates them into a buffer; this generator hands the
    buffer to Django whenever it is not empty (several reads join into one write when the client is the
    slower side). Pings come from one timer that is re-armed for "last write + interval", so a busy stream
    costs no timer or task per read.
    """
    loop = asyncio.get_running_loop()
    buffer: list[bytes] = []
    buffered = 0
    finished = False
    waiter: asyncio.Future[str] | None = None
    ending = False  # the server's shutdown grace period ended
    drained = asyncio.Event()
    last_write = loop.time()
    client_gone = True  # until the generator returns normally

    timer: asyncio.TimerHandle  # assigned below, once on_timer exists

    def wake(why: str) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(why)

    def on_timer() -> None:
        nonlocal timer
        due = last_write + ping_interval
        if loop.time() >= due:
            wake(_PING)
            due = loop.time() + ping_interval
        timer = loop.call_at(due, on_timer)

    def on_shutdown() -> None:
        nonlocal ending
        ending = True
        wake(_SHUTDOWN)

    async def read_upstream() -> None:
        nonlocal buffered, finished
        try:
            async for batch in batches:
                if chunk := translate_batch(translator, batch):
                    buffer.append(chunk)
                    buffered += len(chunk)
                    wake(_DATA)
                    if buffered > HIGH_WATER_BYTES:
                        drained.clear()
                        await drained.wait()
                if translator.done:
                    if translator.upstream_finished:
                        await read_to_eof(batches)
                    return
            buffer.extend(translator.finish())
        except Exception as exc:
            # Upstream failures and anything unexpected after the 200 went out: an ``event: error`` frame.
            if not translator.done:
                outcome.cause = failure_cause(exc)
                buffer.extend(translator.fail(client_error(exc)))
        finally:
            finished = True
            wake(_DATA)

    reader: asyncio.Task[None] | None = None
    timer = loop.call_at(last_write + ping_interval, on_timer)
    forget_shutdown = draining.on_end(on_shutdown)
    try:
        outcome.first_byte()
        if first:
            yield first
        if translator.done:
            if translator.upstream_finished:
                await read_to_eof(batches)
            client_gone = False
            return
        reader = loop.create_task(read_upstream())
        while True:
            if buffer:
                chunk = b"".join(buffer)
                buffer.clear()
                buffered = 0
                drained.set()
                last_write = loop.time()
                yield chunk
                continue
            if finished:
                client_gone = False
                return
            if ending:
                # The server is stopping: stop reading, end with one error frame after the last whole one.
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
                outcome.cause = "shutdown"
                buffer.extend(translator.fail(draining.shutdown_error()))
                finished = True
                continue
            waiter = loop.create_future()
            why = await waiter
            waiter = None
            if why == _PING and not buffer:
                last_write = loop.time()
                yield PING
    finally:
        timer.cancel()
        forget_shutdown()
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await batches.aclose()
        _complete(outcome, translator, client_gone=client_gone)
