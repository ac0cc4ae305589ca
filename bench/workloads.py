"""What the benchmark asks for, and what the fake upstream answers: one canned answer per model name.

The servers under test pass the client's ``model`` through (``bench-*`` matches no gateway model route),
so the fake upstream can pick its answer from it without any per-request scripting. Answers are built
once; serving one costs the fake a dictionary lookup and a few socket writes.

- ``bench-short``, ``bench-long``: 10 / N text deltas, every event its own HTTP chunk as from the real
  upstream, all written at once (events arrive together: the servers read many per read). Without
  ``stream`` they get the JSON response.
- ``bench-spaced-short``, ``bench-spaced-long``: 10 / M deltas, every event in its own write, a fixed gap
  apart (each event is its own read, as with a real model).
- ``bench-held``: the stream's first events, then silence until ``CannedUpstream.release`` is set, then the
  rest: streams held open for the memory figure, and for timing a client's hang-up.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from tests.fakes.upstream import (
    Behaviour,
    RecordedRequest,
    final_response,
    json_response,
    paused,
    raw_stream,
    sse_frame,
    text_response_events,
)

SHORT_DELTAS = 10
DELTA = " tok"  # a typical token's worth of text
HELD_BEFORE = 5  # events sent before a held stream goes silent: lifecycle, item, part, first delta
PROMPT_LINE = "The quick brown fox jumps over the lazy dog; a sentence repeated to fill a long prompt.\n"


@dataclass(frozen=True)
class Workload:
    """One kind of client request: the model picks the upstream answer."""

    model: str
    stream: bool = True
    prompt_bytes: int = 0  # a user message of about this size instead of "Hi"

    def body(self) -> str:
        text = "Hi"
        if self.prompt_bytes:
            text = (PROMPT_LINE * (self.prompt_bytes // len(PROMPT_LINE) + 1))[: self.prompt_bytes]
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": text}],
        }
        if self.stream:
            request["stream"] = True
        return json.dumps(request)


SHORT_STREAM = Workload("bench-short")
SHORT_JSON = Workload("bench-short", stream=False)
LONG_STREAM = Workload("bench-long")
SPACED_SHORT = Workload("bench-spaced-short")
SPACED_LONG = Workload("bench-spaced-long")
HELD = Workload("bench-held")
HELD_BIG_PROMPT = Workload("bench-held", prompt_bytes=64 * 1024)


class CannedUpstream:
    """The fake upstream's default answer for the benchmark (``FakeUpstream.set_default(canned)``)."""

    def __init__(self, *, long_deltas: int, spaced_deltas: int, spacing: float) -> None:
        self.release = threading.Event()
        events = {
            "bench-short": text_response_events([DELTA] * SHORT_DELTAS),
            "bench-long": text_response_events([DELTA] * long_deltas),
            "bench-spaced-short": text_response_events([DELTA] * SHORT_DELTAS),
            "bench-spaced-long": text_response_events([DELTA] * spaced_deltas),
            "bench-held": text_response_events([DELTA] * SHORT_DELTAS),
        }
        self.event_counts = {model: len(stream) for model, stream in events.items()}
        frames = {model: [sse_frame(event) for event in stream] for model, stream in events.items()}
        self._streams: dict[str, Behaviour] = {
            "bench-short": raw_stream(frames["bench-short"], together=True),
            "bench-long": raw_stream(frames["bench-long"], together=True),
            "bench-spaced-short": raw_stream(frames["bench-spaced-short"], delay=spacing),
            "bench-spaced-long": raw_stream(frames["bench-spaced-long"], delay=spacing),
            "bench-held": paused(
                frames["bench-held"][:HELD_BEFORE], self.release, after=frames["bench-held"][HELD_BEFORE:]
            ),
        }
        self._json = {model: json_response(final_response(stream)) for model, stream in events.items()}

    def __call__(self, request: RecordedRequest) -> Behaviour:
        body = request.json()
        answers = self._streams if body.get("stream") else self._json
        return answers[body["model"]]
