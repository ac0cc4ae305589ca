"""CPU per upstream read of the gateway's relay beside a pass-through's loop, in one process, no sockets.

Both read the same upstream through an ``httpx2.Response`` whose body stream waits for the event loop once
per chunk (as a socket read does: a future resolved by ``call_soon``), one text-delta event (about 250
bytes of SSE) per chunk, on uvloop, writing to an ASGI ``send`` that does nothing:

- **pass-through**: ``async for chunk in response.aiter_raw(): await send(...)``, as ``bench/passthrough.py``
  (starlette's ``StreamingResponse``) does per read;
- **relay**: the gateway's own path, ``OpenAIStream.batches()`` (the SSE decoder) under ``Relay.run`` (the
  read stepped by hand, the stream translator, the frame encoder, the ping-aware write);
- **relay, no translation**: the same with a translator that returns a constant, which separates the
  relay's machinery and the SSE decoder from translating and encoding;
- **... reads awaited plainly**: also without the relay's stepping of each read (``Relay._read``: what
  lets a burst go out in one write), pending frames written before every read instead;
- **... no SSE decoder**: also with each raw chunk passed on as one event: what remains is the relay's
  loop and the ``batches()`` generator layer.

What the sockets, uvicorn and h11 cost is the same for both servers and left out, so the difference is
what the gateway's Python adds per read (the benchmark's "own read" figure, docs/performance.md, measures
it with everything around it). Prints CPU per read, best of five runs. Asserts nothing.

    .venv/bin/python bench/relay_cpu.py [--reads 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")


def upstream_chunks(reads: int) -> list[bytes]:
    from bench.translate_cpu import stream_start, text_delta

    return [stream_start()] + [text_delta()] * reads


def response(chunks: list[bytes]) -> Any:
    """An ``httpx2.Response`` whose every chunk waits for the loop once, like a socket read."""
    import httpx2

    class Body(httpx2.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            loop = asyncio.get_running_loop()
            for chunk in chunks:
                arrived = loop.create_future()
                loop.call_soon(arrived.set_result, None)
                await arrived
                yield chunk

        async def aclose(self) -> None:
            pass

    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=Body())


async def discard(message: dict[str, Any]) -> None:
    pass


async def passthrough(chunks: list[bytes]) -> None:
    upstream = response(chunks)
    async for chunk in upstream.aiter_raw():
        await discard({"type": "http.response.body", "body": chunk, "more_body": True})
    await upstream.aclose()


async def through_relay(
    chunks: list[bytes], translator: Any, *, stepped: bool = True, decoded: bool = True
) -> None:
    from streaming.api.relay import Relay, translate_batch
    from streaming.outcome import Outcome
    from streaming.transport.openai import OpenAIStream

    class PlainReads(Relay):
        async def _read(self, pending: list[bytes], send: Any) -> Any:
            if pending:
                await send(b"".join(pending))
                pending.clear()
            return await anext(self.batches, None)

    async def undecoded(upstream: Any) -> AsyncIterator[list[Any]]:
        async for chunk in upstream.aiter_raw():
            yield [chunk]

    upstream = response(chunks)
    batches = OpenAIStream(upstream).batches() if decoded else undecoded(upstream)
    first = translate_batch(translator, await anext(batches))
    kind = Relay if stepped else PlainReads
    await kind(first, batches, translator, Outcome("messages"), ping_interval=15.0).run(discard)


class RawTranslator:
    """One constant frame per event, never done: the relay's machinery without translation."""

    started, done, upstream_finished, error, stop_reason, usage = True, False, False, None, None, None

    def feed(self, event: Any) -> list[bytes]:
        return [b"x"]

    def finish(self) -> list[bytes]:
        self.done = True
        return []

    def fail(self, error: Any) -> list[bytes]:
        return []


def cpu_per_read(run: Callable[[], Any], reads: int) -> tuple[float, list[float]]:
    import uvloop

    runs = []
    for _ in range(5):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            began = time.process_time()
            runner.run(run())
            runs.append((time.process_time() - began) / reads * 1e6)
    return min(runs), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=20000)
    args = parser.parse_args()

    import django

    django.setup()
    from streaming import outcome
    from streaming.translate.stream import StreamTranslator

    for sink in list(outcome._sinks):  # no usage record, log line or metrics: one stream's end, not per read
        outcome.remove_sink(sink)
    from tests.unit.test_stream_translator import ctx

    chunks = upstream_chunks(args.reads)
    figures = {
        "pass-through (aiter_raw, send)": cpu_per_read(lambda: passthrough(chunks), args.reads),
        "relay, no translation": cpu_per_read(lambda: through_relay(chunks, RawTranslator()), args.reads),
        "... reads awaited plainly": cpu_per_read(
            lambda: through_relay(chunks, RawTranslator(), stepped=False), args.reads
        ),
        "... no SSE decoder": cpu_per_read(
            lambda: through_relay(chunks, RawTranslator(), stepped=False, decoded=False), args.reads
        ),
        "relay (decode, translate, encode)": cpu_per_read(
            lambda: through_relay(chunks, StreamTranslator(ctx())), args.reads
        ),
    }
    print(f"{args.reads} reads of one text-delta event ({len(chunks[1])} bytes of SSE) each, CPU per read:")
    base = figures["pass-through (aiter_raw, send)"][0]
    for name, (best, runs) in figures.items():
        print(f"  {name:36} {best:6.2f} µs  (+{best - base:5.2f})  runs: {[round(r, 2) for r in runs]}")


if __name__ == "__main__":
    main()
