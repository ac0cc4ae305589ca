"""One log line per API request, at its end (a stream's end included), on the ``streaming.requests`` logger.

Readable by default; JSON (one object per line, every field its own key) with ``GATEWAY_LOG_FORMAT=json``,
through ``JSONFormatter``. The line names the correlation id, the client key's name (never the key), the
client and upstream model, the upstream, status, stop reason, tokens, time to first byte and duration,
and for failures their cause (connect, pool_timeout, read_timeout, upstream_status, mid_stream_error,
client_gone...). Failed authentications (and the 429s that follow too many of them) are collapsed: the first of a burst is logged, the rest are
counted and logged as one line per ``AUTH_FAILURE_WINDOW`` seconds, so a flood of wrong keys costs one
line, not one per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from streaming.outcome import Outcome

logger = logging.getLogger("streaming.requests")

AUTH_FAILURE_WINDOW = 10.0


def fields(outcome: Outcome) -> dict[str, Any]:
    """The request's facts as log fields (absent ones left out)."""
    record: dict[str, Any] = {
        "correlation_id": outcome.correlation_id,
        "endpoint": outcome.endpoint,
        "stream": outcome.stream,
        "status": outcome.status,
        "key": outcome.client_key_name,
        "client_model": outcome.client_model,
        "upstream": outcome.upstream,
        "upstream_model": outcome.upstream_model,
        "stop_reason": outcome.stop_reason,
        "input_tokens": outcome.input_tokens,
        "output_tokens": outcome.output_tokens,
        "cache_read_tokens": outcome.cache_read_tokens,
        "cache_creation_tokens": outcome.cache_creation_tokens,
        "ttfb_ms": None if outcome.ttfb is None else round(outcome.ttfb * 1000),
        "duration_ms": None if outcome.duration is None else round(outcome.duration * 1000),
        "error_type": outcome.error_type,
        "cause": outcome.cause,
    }
    return {name: value for name, value in record.items() if value is not None}


def _message(record: dict[str, Any]) -> str:
    parts = [record["endpoint"] + (" stream" if record["stream"] else ""), str(record["status"])]
    parts += [record[name] for name in ("error_type", "stop_reason") if name in record]
    if "cause" in record:
        parts.append(f"cause={record['cause']}")
    if "key" in record:
        parts.append(f"key={record['key']}")
    if "client_model" in record:
        target = f"{record.get('upstream', '?')}/{record.get('upstream_model', '?')}"
        parts.append(f"model={record['client_model']}->{target}")
    parts.append(
        f"tokens=in:{record['input_tokens']},out:{record['output_tokens']},"
        f"cache_read:{record['cache_read_tokens']},cache_write:{record['cache_creation_tokens']}"
    )
    parts += [f"{name[:-3]}={record[name]}ms" for name in ("ttfb_ms", "duration_ms") if name in record]
    return " ".join(parts)


class _AuthFailures:
    """Counts failed authentications; logs the first of a burst, then one line per window."""

    def __init__(self) -> None:
        self.window_started: float | None = None
        self.count = 0

    def add(self, record: dict[str, Any]) -> bool:
        """Whether this failure is to be logged on its own (the first of a window)."""
        if (
            self.window_started is not None
            and time.monotonic() - self.window_started > 2 * AUTH_FAILURE_WINDOW
        ):
            self.flush()  # the window's timer was lost with its event loop
        if self.window_started is not None:
            self.count += 1
            return False
        self.window_started = time.monotonic()
        self.count = 0
        try:
            asyncio.get_running_loop().call_later(AUTH_FAILURE_WINDOW, self.flush)
        except RuntimeError:  # no loop (a synchronous caller): the next failure closes the window
            self.window_started = None
        return True

    def flush(self) -> None:
        if self.count:
            logger.warning(
                "%d more failed authentications in the last %.0f s (collapsed)",
                self.count,
                AUTH_FAILURE_WINDOW,
                extra={
                    "request": {"failed_authentications": self.count, "window_seconds": AUTH_FAILURE_WINDOW}
                },
            )
        self.window_started = None
        self.count = 0


_auth_failures = _AuthFailures()


def log_request(outcome: Outcome) -> None:
    """The outcome sink: one line for this request (or a count, for a flood of failed authentications)."""
    record = fields(outcome)
    failed_auth = outcome.error_type == "authentication_error" or outcome.cause == "failed_auth"
    if failed_auth and not _auth_failures.add(record):
        return
    level = logging.WARNING if outcome.status >= 500 or outcome.error_type else logging.INFO
    logger.log(level, "%s", _message(record), extra={"request": record})


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, correlation id, message, a request's fields."""

    # typeshed types gmtime's argument as positional-only; Formatter calls it with one float.
    converter = time.gmtime  # type: ignore[assignment]

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "correlation_id": getattr(record, "correlation_id", None),
            "message": record.getMessage(),
        }
        request = getattr(record, "request", None)
        if isinstance(request, dict):
            document.update(request)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)
