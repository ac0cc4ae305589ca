"""Sans-I/O decoder for ``text/event-stream`` bodies (WHATWG HTML, "event stream interpretation").

Bytes in, complete events out: ``feed(chunk)`` returns the events the chunk completed, ``flush()`` ends the
stream. Shaped like httpx's ``_decoders.py``: chunks are split on line ends with ``bytes.split`` (no
per-byte Python loop); a partial line is kept until its end arrives; a ``\\r`` ending one chunk and a
``\\n`` starting the next are one line end; UTF-8 is decoded only after a whole event is collected, so a
multi-byte character split across reads is safe. Pure: no I/O imports.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

__all__ = ["DONE", "SSEDecoder", "SSEEvent"]

DONE = "[DONE]"
"""``data: [DONE]``: the end marker some OpenAI-compatible servers send; decoded as this raw string."""

_BOM = b"\xef\xbb\xbf"


class SSEEvent(TypedDict):
    """One dispatched event: ``event`` defaults to ``"message"``; ``data`` is parsed JSON, else the text."""

    event: str
    data: Any


def _parse_data(raw: bytes) -> Any:
    """JSON when it is JSON (the Responses API always sends JSON), else the decoded text."""
    try:
        return json.loads(raw)
    except ValueError:  # also UnicodeDecodeError
        return raw.decode("utf-8", "replace")


class SSEDecoder:
    """Incremental event-stream decoder: ``feed(bytes) -> list[SSEEvent]``, ``flush() -> []``."""

    __slots__ = ("_at_start", "_data", "_event", "_skip_lf", "_tail", "truncated")

    def __init__(self) -> None:
        self._tail: list[bytes] = []  # bytes of the current, unfinished line
        self._skip_lf = False  # the previous chunk ended with "\r": a leading "\n" belongs to it
        self._at_start = True  # a UTF-8 BOM may open the stream
        self._event: bytes | None = None
        self._data: list[bytes] = []
        self.truncated = False
        """Set by ``flush()`` when the stream ended inside an event (which is dropped, per the spec)."""

    @property
    def pending(self) -> bool:
        """Bytes of an event (or of a non-comment line) are buffered that no blank line has completed."""
        if self._data or self._event is not None:
            return True
        tail = b"".join(self._tail)
        return bool(tail) and not tail.startswith(b":")

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        if b"\n" not in chunk and b"\r" not in chunk:
            self._tail.append(chunk)  # no line end: nothing to do until one arrives
            return []
        if self._tail:
            self._tail.append(chunk)
            chunk = b"".join(self._tail)
            self._tail = []
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        last = lines.pop()
        if last:
            self._tail.append(last)
        if self._at_start:
            self._at_start = False
            lines[0] = lines[0].removeprefix(_BOM)
        return self._process(lines)

    def flush(self) -> list[SSEEvent]:
        """End of stream: an event without its closing blank line is discarded (WHATWG; both SDKs)."""
        self.truncated = self.pending
        self._tail = []
        self._event = None
        self._data = []
        return []

    def _process(self, lines: list[bytes]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    raw = data[0] if len(data) == 1 else b"\n".join(data)
                    events.append(
                        {
                            "event": self._event.decode("utf-8", "replace") if self._event else "message",
                            "data": DONE if raw == b"[DONE]" else _parse_data(raw),
                        }
                    )
                    data = self._data = []
                self._event = None  # an event with no data lines is not dispatched, only reset
                continue
            if line[0] == 58:  # b":"  comment / keepalive
                continue
            colon = line.find(b":")
            if colon < 0:
                name, value = line, b""
            else:
                name, value = line[:colon], line[colon + 1 :]
                if value[:1] == b" ":
                    value = value[1:]
            if name == b"data":
                data.append(value)
            elif name == b"event":
                self._event = value
            # "id", "retry" and unknown fields: ignored (the gateway never reconnects upstream).
        return events
