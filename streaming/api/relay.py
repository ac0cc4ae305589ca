"""Drive one upstream event stream through a translator to the client, with pings and clean shutdown.

The relay owns all of a stream's translation. ``start_relay`` reads and translates the upstream's first
read before the 200 goes out, so a stream whose very first event is an error becomes a plain HTTP error.
After that, ``Relay.write_to`` is one loop in the response's own task: read the upstream, translate
every event that read completed, write the frames to the client in one ASGI message, read again. That
is what a bare pass-through proxy does per read, and the client's pace throttles the upstream reads
(``send`` waits while the client is slow). Reads that complete without waiting (a burst the upstream
sent at once) are translated first and written together, before the next read that has to wait. While the upstream is silent the client gets an Anthropic
``ping`` every ``PING_INTERVAL`` seconds from a re-armed timer, so idle timers (proxies, Claude Code)
don't fire. When the client goes away its task is cancelled: the ``finally`` closes the upstream at once
and completes the request's outcome.

The gateway's own handler (``api/asgi_handler.py``) calls ``write_to`` with the ASGI ``send``. Under
Django's stock handler (a host site) the response is an async iterator instead: the same loop runs in a
task of its own and hands its writes to the iterator through a short queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from typing import Any, Protocol

from django.http import StreamingHttpResponse

from streaming.api import draining, memory
from streaming.error_map import client_error, failure_cause
from streaming.errors import BadGatewayError, GatewayError
from streaming.observability import metrics
from streaming.outcome import Outcome
from streaming.translate.frames import PING
from streaming.translate.types import StopReason, Usage
from streaming.transport import SSEEvent

Send = Callable[[dict[str, Any]], Awaitable[None]]
Write = Callable[[bytes], Awaitable[None]]


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


def translate_batch(translator: Translator, batch: list[SSEEvent]) -> bytes:
    """The client bytes for one upstream read: every event it produced, joined for one write."""
    frames: list[bytes] = []
    for event in batch:
        frames += translator.feed(event)
        if translator.done:
            break
    return b"".join(frames)


# After the upstream's terminal event, how long to wait for its EOF (normally already there).
EOF_GRACE_SECONDS = 0.5
# Writes the iterator adapter (stock Django) may hold for a slow client before the relay waits.
QUEUED_WRITES = 16
# Reads that completed without waiting are written together, but never more than this many at once.
FLUSH_READS = 256


async def read_to_eof(batches: AsyncGenerator[list[SSEEvent], None]) -> None:
    """Read an upstream stream to its end so its connection goes back to the pool, not closed.

    Closing a response before its last chunk forces a new TCP (and TLS) handshake on the next request.
    """
    with contextlib.suppress(Exception):
        async with asyncio.timeout(EOF_GRACE_SECONDS):
            async for _ in batches:
                pass


class Relay:
    """One stream from its first translated read to its end; run once, by ``write_to`` or by iterating."""

    def __init__(
        self,
        first: bytes,
        batches: AsyncGenerator[list[SSEEvent], None],
        translator: Translator,
        outcome: Outcome,
        *,
        ping_interval: float,
    ) -> None:
        self.first = first
        self.batches = batches
        self.translator = translator
        self.outcome = outcome
        self.ping_interval = ping_interval

    async def write_to(self, send: Send) -> None:
        """Relay the stream as ASGI ``http.response.body`` messages (``more_body``; the caller ends it)."""
        await self.run(send)

    async def run(self, asgi_send: Send) -> None:
        """The relay loop: every client write is one ``http.response.body`` message, one at a time."""
        loop = asyncio.get_running_loop()
        translator, batches, outcome = self.translator, self.batches, self.outcome
        task = asyncio.current_task()
        last_write = loop.time()
        writing = False  # a write is under way: the timer does not start a ping beside it
        pinging: asyncio.Task[None] | None = None
        ending = False
        client_gone = True  # until the loop returns normally
        timer: asyncio.TimerHandle  # armed below, once on_timer exists

        async def write(chunk: bytes) -> None:
            nonlocal last_write, writing
            writing = True
            try:
                await asgi_send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                writing = False
            last_write = loop.time()

        async def send(chunk: bytes) -> None:
            if pinging is not None and not pinging.done():
                await pinging  # a ping is being written: it goes first, whole
            await write(chunk)

        def on_timer() -> None:
            nonlocal timer, pinging
            due = last_write + self.ping_interval
            if loop.time() >= due:
                if not writing and (pinging is None or pinging.done()):
                    pinging = loop.create_task(write(PING))
                due = loop.time() + self.ping_interval
            timer = loop.call_at(due, on_timer)  # noqa: F821 (deleted only after the timer is cancelled)

        def on_shutdown() -> None:
            nonlocal ending
            ending = True
            if task is not None:
                task.cancel()

        timer = loop.call_at(last_write + self.ping_interval, on_timer)
        forget_shutdown = draining.on_end(on_shutdown)
        try:
            outcome.first_byte()
            if self.first:
                await send(self.first)
            pending: list[bytes] = []  # translated from reads that completed without waiting, not yet written
            try:
                while not translator.done:
                    batch = await self._read(pending, send)
                    if batch is None:
                        pending += translator.finish()
                    elif chunk := translate_batch(translator, batch):
                        pending.append(chunk)
                        if len(pending) >= FLUSH_READS:
                            await send(b"".join(pending))
                            pending.clear()
                if pending:
                    await send(b"".join(pending))
                    pending.clear()
                if translator.upstream_finished:
                    await read_to_eof(batches)
            except asyncio.CancelledError:
                if not ending or task is None:
                    raise  # the client left (Django cancels the response task) or the server gave up
                task.uncancel()
                # The server is stopping: stop reading, end with one error frame after the last whole one.
                outcome.cause = "shutdown"
                await send(b"".join([*pending, *translator.fail(draining.shutdown_error())]))
            except Exception as exc:
                # Upstream failures and anything unexpected after the 200 went out: an ``event: error`` frame.
                if translator.done:
                    raise
                outcome.cause = failure_cause(exc)
                await send(b"".join([*pending, *translator.fail(client_error(exc))]))
            client_gone = False
        finally:
            timer.cancel()
            # ``on_timer`` names itself, so its closure holds it: a cycle through every cell it uses (this
            # relay, its translator and upstream reads among them) that only the cyclic collector would
            # free, long after the stream. Emptying that cell frees the stream's objects now.
            del on_timer
            forget_shutdown()
            if pinging is not None and not pinging.done():
                pinging.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pinging
            await batches.aclose()
            _complete(outcome, translator, client_gone=client_gone)

    async def _read(self, pending: list[bytes], send: Write) -> list[SSEEvent] | None:
        """The next upstream read (None at its end). When that read has to wait for the network, what is
        ``pending`` is written first; a read that completes at once (the events were already received)
        leaves it pending, so a burst of events goes out in one write, not one write per event.

        Whether a read will wait is known only by running it: it is stepped by hand up to its first
        suspension (``_Rest`` then awaits the remainder as the task itself would).
        """
        step: Any = anext(self.batches)
        try:
            yielded = step.send(None)
        except StopIteration as done:
            batch: list[SSEEvent] = done.value
            return batch
        except StopAsyncIteration:
            return None
        if pending:
            try:
                await send(b"".join(pending))
            except BaseException as exc:
                await _abandon(step, exc)
                raise
            pending.clear()
        try:
            rest: list[SSEEvent] = await _Rest(step, yielded)
        except StopAsyncIteration:
            return None
        return rest

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The stream as an async iterator of client writes, for Django's stock handler.

        The loop runs in a task of its own; a slow client makes it wait once ``QUEUED_WRITES`` writes are
        queued. Closing the iterator (the client left) cancels the task, which closes the upstream.
        """
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUED_WRITES)

        async def put(message: dict[str, Any]) -> None:
            await queue.put(message["body"])

        async def run() -> None:
            try:
                await self.run(put)
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

        runner = asyncio.get_running_loop().create_task(run())
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            await runner  # its exceptions, if any, are the handler's business
        finally:
            if not runner.done():
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner


class _Rest:
    """Awaits the rest of a coroutine that was run by hand up to its first suspension.

    ``first`` is what it yielded there (the future it waits on); from then on every value, result and
    exception passes through unchanged, exactly as in ``await coroutine``.
    """

    __slots__ = ("coroutine", "first")

    def __init__(self, coroutine: Any, first: Any) -> None:
        self.coroutine, self.first = coroutine, first

    def __await__(self) -> Generator[Any, Any, Any]:
        coroutine, value = self.coroutine, self.first
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # the task's cancellation, into the read
                try:
                    value = coroutine.throw(exc)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    value = coroutine.send(sent)
                except StopIteration as done:
                    return done.value


async def _abandon(step: Any, exc: BaseException) -> None:
    """End a read stepped up to its first suspension, with ``exc`` (a cancellation), letting it clean up."""
    try:
        yielded = step.throw(exc)
    except BaseException:
        return
    with contextlib.suppress(BaseException):
        await _Rest(step, yielded)


def relay(
    first: bytes,
    batches: AsyncGenerator[list[SSEEvent], None],
    translator: Translator,
    outcome: Outcome,
    *,
    ping_interval: float,
) -> AsyncIterator[bytes]:
    """The client-bound bytes of a stream whose first read was translated into ``first`` (an iterator)."""
    return Relay(first, batches, translator, outcome, ping_interval=ping_interval).__aiter__()


class EventStreamResponse(StreamingHttpResponse):
    """A ``text/event-stream`` response carrying its ``Relay``.

    The gateway's handler writes it with ``write_to`` (no iterator, no second task). Django's stock
    handler iterates it: ``__aiter__`` hands Django the relay's iterator itself, so Django's ``aclosing()``
    closes it (and so the upstream) the moment the client disconnects. A response dropped before either
    began (the client left between the view and the first write) runs ``abandoned`` on its loop instead.
    """

    _iterator: AsyncIterator[bytes]  # set by Django's streaming_content setter; absent from django-stubs

    def __init__(self, stream: Relay, *, abandoned: Callable[[], Awaitable[None]] | None = None) -> None:
        # Django takes ``aiter(stream)`` now (an iterator not started yet): ``is_async``, and what its test
        # client's ``streaming_content`` reads.
        super().__init__(stream, content_type="text/event-stream; charset=utf-8")
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"
        self.relay = stream
        self._abandoned = (
            weakref.finalize(self, _run_on_loop, asyncio.get_running_loop(), abandoned)
            if abandoned is not None
            else None
        )

    def claim(self) -> Relay:
        """The relay, for the one caller that will run it (its ``finally`` cleans up from now on)."""
        if self._abandoned is not None:
            self._abandoned.detach()
        return self.relay

    def __aiter__(self) -> AsyncIterator[bytes]:
        self.claim()
        return self._iterator


def _run_on_loop(loop: asyncio.AbstractEventLoop, cleanup: Any) -> None:
    """Schedule ``cleanup()`` (a coroutine function) on ``loop``, from whatever thread collects garbage."""
    if not loop.is_closed():
        loop.call_soon_threadsafe(lambda: loop.create_task(cleanup()))


_open_streams = 0
"""Streams relayed now (this worker): when the last one ends, freed memory goes back (``memory``)."""


def _idle() -> bool:
    return not _open_streams


def _complete(outcome: Outcome, translator: Translator, *, client_gone: bool) -> None:
    """The stream's outcome from what the translator saw (a 200 already went out)."""
    global _open_streams
    if outcome.completed:
        return
    _open_streams = max(0, _open_streams - 1)  # a relay built without start_relay (tests) never counted
    if not _open_streams:
        memory.release_soon(_idle)
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
    global _open_streams
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
    _open_streams += 1
    metrics.stream_opened()

    async def abandoned() -> None:
        await batches.aclose()
        await stream.aclose()
        _complete(outcome, translator, client_gone=True)

    return EventStreamResponse(
        Relay(first, batches, translator, outcome, ping_interval=ping_interval), abandoned=abandoned
    )
