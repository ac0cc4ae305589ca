"""What one API request did, filled in along the way and completed exactly once at its end.

The view's decorator creates it (endpoint, correlation id, start time); authentication, routing and the
upstream call fill in who asked for what and where it went; the JSON path completes it when the
response is built, a stream's relay in its ``finally`` (also when the client hangs up). Completion hands
it to the sinks (usage records, request log, metrics), which must not block: they queue, they do not
write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

logger = logging.getLogger("streaming")

Sink = Callable[["Outcome"], None]
_sinks: list[Sink] = []


def add_sink(sink: Sink) -> None:
    """Have ``sink`` called with every completed outcome (idempotent)."""
    if sink not in _sinks:
        _sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in _sinks:
        _sinks.remove(sink)


@dataclass(slots=True, eq=False)
class Outcome:
    """One request's facts; durations in seconds, from a monotonic clock."""

    endpoint: str
    correlation_id: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started: float = field(default_factory=time.monotonic)
    stream: bool = False
    client_key_id: int | None = None
    client_key_name: str | None = None
    client_model: str | None = None
    upstream: str | None = None
    upstream_model: str | None = None
    status: int = 0
    error_type: str | None = None
    # Why it failed: connect, pool_timeout, read_timeout, upstream_status, mid_stream_error, client_gone...
    cause: str | None = None
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    web_search_requests: int = 0
    ttfb: float | None = None
    duration: float | None = None
    completed: bool = False
    _on_complete: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def routed(self, client_model: str, upstream: str, upstream_model: str) -> None:
        self.client_model, self.upstream, self.upstream_model = client_model, upstream, upstream_model

    def first_byte(self) -> None:
        """The first byte of the answer is leaving now (streams call it once; JSON answers at completion)."""
        if self.ttfb is None:
            self.ttfb = time.monotonic() - self.started

    def set_usage(self, usage: object) -> None:
        """Copy an Anthropic ``usage`` object's token figures and web searches (absent or odd values: 0)."""
        get = usage.get if isinstance(usage, dict) else (lambda name, default=0: default)
        self.input_tokens = _int(get("input_tokens", 0))
        self.output_tokens = _int(get("output_tokens", 0))
        self.cache_read_tokens = _int(get("cache_read_input_tokens", 0))
        self.cache_creation_tokens = _int(get("cache_creation_input_tokens", 0))
        server_tools = get("server_tool_use", None)
        if isinstance(server_tools, dict):
            self.web_search_requests = _int(server_tools.get("web_search_requests", 0))

    def on_complete(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when this request completes (a concurrency slot to give back)."""
        self._on_complete.append(callback)

    def fail(self, status: int, error_type: str, cause: str) -> None:
        self.status, self.error_type, self.cause = status, error_type, cause

    def complete(self, status: int | None = None) -> None:
        """Finish the record (once; later calls do nothing) and hand it to every sink."""
        if self.completed:
            return
        self.completed = True
        if status is not None and not self.status:
            self.status = status
        self.duration = time.monotonic() - self.started
        if self.ttfb is None and self.status:
            self.ttfb = self.duration
        for callback in self._on_complete:
            try:
                callback()
            except Exception:
                logger.exception("releasing a request's resources failed")
        for sink in tuple(_sinks):
            try:
                sink(self)
            except Exception:
                logger.exception("an outcome sink failed")


def _int(value: object) -> int:
    return value if type(value) is int and value >= 0 else 0
