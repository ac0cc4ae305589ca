"""CPU of the gateway's own work per upstream event, without any I/O: decode, translate, encode.

Feeds one OpenAI text-delta event (as the fake upstream writes it, about 250 bytes of SSE) through the
relay's per-read path (``SSEDecoder.feed`` then ``translate_batch``: the stream translator and the frame
encoder) many times, and prints the CPU per event, best of five runs; then the decoder alone. This is
what the gateway adds per event over a pass-through that forwards bytes; docs/performance.md sets it
against the benchmark's per-event figures. Asserts nothing.

    .venv/bin/python bench/translate_cpu.py [--events 20000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")


def sse(event: str, data: dict[str, Any]) -> bytes:
    from streaming.json_codec import dumps

    return b"event: " + event.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def stream_start() -> bytes:
    """The events before the first text delta: ``response.created`` and the message item."""
    item = {"id": "msg_0", "type": "message", "role": "assistant", "content": [], "status": "in_progress"}
    start = sse("response.created", {"type": "response.created", "response": {"id": "resp_1", "output": []}})
    return start + sse(
        "response.output_item.added", {"type": "response.output_item.added", "output_index": 0, "item": item}
    )


def text_delta() -> bytes:
    """One text delta as OpenAI writes it (about 250 bytes of SSE)."""
    delta = {
        "type": "response.output_text.delta",
        "sequence_number": 12,
        "item_id": "msg_" + "a" * 40,
        "output_index": 0,
        "content_index": 0,
        "delta": "Hello there, ",
        "logprobs": [],
        "obfuscation": "abcdefgh",
    }
    return sse("response.output_text.delta", delta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    args = parser.parse_args()

    import django

    django.setup()
    from streaming.api.relay import translate_batch
    from streaming.translate.stream import StreamTranslator
    from streaming.transport.sse_decoder import SSEDecoder
    from tests.unit.test_stream_translator import ctx

    start, raw = stream_start(), text_delta()

    translator, decoder = StreamTranslator(ctx()), SSEDecoder()
    translate_batch(translator, decoder.feed(start))
    runs = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(args.events):
            translate_batch(translator, decoder.feed(raw))
        runs.append((time.process_time() - began) / args.events * 1e6)
    began = time.process_time()
    for _ in range(args.events):
        decoder.feed(raw)
    alone = (time.process_time() - began) / args.events * 1e6
    print(f"delta event: {len(raw)} bytes of SSE")
    print(f"decode + translate + encode: {min(runs):.2f} µs per event (runs: {[round(r, 2) for r in runs]})")
    print(f"decode alone: {alone:.2f} µs per event")


if __name__ == "__main__":
    main()
