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
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any, Protocol

from django.http import StreamingHttpResponse

from streaming.errors import GatewayError
from streaming.sse import PING
from streaming.transport import SSEEvent


class Translator(Protocol):
    """What the relay needs from a stream translator (streaming.translate.stream.StreamTranslator)."""

    @property
    def done(self) -> bool: ...

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

    def __aiter__(self) -> AsyncIterator[bytes]:  # type: ignore[override]
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


async def relay(
    first: bytes,
    batches: AsyncGenerator[list[SSEEvent], None],
    translator: Translator,
    *,
    ping_interval: float,
    to_gateway_error: Any,
) -> AsyncIterator[bytes]:
    """Client-bound SSE bytes, starting with ``first`` (the translated first upstream read)."""
    pending: asyncio.Future[list[SSEEvent]] | None = None
    try:
        if first:
            yield first
        while not translator.done:
            if pending is None:
                pending = asyncio.ensure_future(anext(batches))
            finished, _ = await asyncio.wait((pending,), timeout=ping_interval)
            if not finished:
                yield PING
                continue
            task, pending = pending, None
            try:
                batch = task.result()
            except StopAsyncIteration:
                if chunk := b"".join(translator.finish()):
                    yield chunk
                return
            if chunk := translate_batch(translator, batch):
                yield chunk
    except Exception as exc:
        # Upstream failures and anything unexpected after the 200 went out: an ``event: error`` frame.
        if not translator.done and (chunk := b"".join(translator.fail(to_gateway_error(exc)))):
            yield chunk
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        await batches.aclose()
