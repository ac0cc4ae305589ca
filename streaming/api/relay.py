"""Drive one upstream event stream through a translator to the client, with pings and clean shutdown.

Each upstream read becomes at most one write to the client: all the events that read produced are
translated and joined, never held back. While the upstream is silent the client gets an Anthropic
``ping`` every ``PING_INTERVAL`` seconds so idle timers (proxies, Claude Code) don't fire. When the client
goes away Django cancels the response task and closes this generator: the ``finally`` closes the
upstream request at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Protocol

from django.http import StreamingHttpResponse

from streaming.errors import GatewayError
from streaming.translate.frames import PING
from streaming.transport import SSEEvent


class Translator(Protocol):
    """What the relay needs from a stream translator (streaming.translate.stream.StreamTranslator)."""

    @property
    def done(self) -> bool: ...

    @property
    def upstream_finished(self) -> bool: ...

    def feed(self, event: SSEEvent) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...

    def fail(self, error: GatewayError) -> list[bytes]: ...


class EventStreamResponse(StreamingHttpResponse):
    """A ``text/event-stream`` response whose async iterator Django consumes directly.

    Django's ``StreamingHttpResponse.__aiter__`` wraps the content in two more async generators and does
    not close it explicitly; handing Django our generator lets its ``aclosing()`` close it (and so the
    upstream) the moment the client disconnects.
    """

    def __init__(self, content: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(content, content_type="text/event-stream; charset=utf-8", **kwargs)
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"

    _iterator: AsyncIterator[bytes]  # set by Django's streaming_content setter; absent from django-stubs

    def __aiter__(self) -> AsyncIterator[bytes]:
        iterator: AsyncIterator[bytes] = self._iterator
        return iterator


def translate_batch(translator: Translator, batch: list[SSEEvent]) -> bytes:
    """The client bytes for one upstream read: every event it produced, joined for one write."""
    frames: list[bytes] = []
    for event in batch:
        frames += translator.feed(event)
        if translator.done:
            break
    return b"".join(frames)


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


async def relay(
    first: bytes,
    batches: AsyncGenerator[list[SSEEvent], None],
    translator: Translator,
    *,
    ping_interval: float,
    to_gateway_error: Callable[[BaseException], GatewayError],
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
    waiter: asyncio.Future[bool] | None = None
    drained = asyncio.Event()
    last_write = loop.time()

    timer: asyncio.TimerHandle  # assigned below, once on_timer exists

    def wake(ping: bool) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(ping)

    def on_timer() -> None:
        nonlocal timer
        due = last_write + ping_interval
        if loop.time() >= due:
            wake(True)
            due = loop.time() + ping_interval
        timer = loop.call_at(due, on_timer)

    async def read_upstream() -> None:
        nonlocal buffered, finished
        try:
            async for batch in batches:
                if chunk := translate_batch(translator, batch):
                    buffer.append(chunk)
                    buffered += len(chunk)
                    wake(False)
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
                buffer.extend(translator.fail(to_gateway_error(exc)))
        finally:
            finished = True
            wake(False)

    reader: asyncio.Task[None] | None = None
    timer = loop.call_at(last_write + ping_interval, on_timer)
    try:
        if first:
            yield first
        if translator.done:
            if translator.upstream_finished:
                await read_to_eof(batches)
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
                return
            waiter = loop.create_future()
            ping = await waiter
            waiter = None
            if ping and not buffer:
                last_write = loop.time()
                yield PING
    finally:
        timer.cancel()
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        await batches.aclose()
