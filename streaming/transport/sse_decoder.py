"""Sans-I/O decoder for ``text/event-stream`` bodies (WHATWG HTML, "event stream interpretation").

Bytes in, complete events out: ``feed(chunk)`` returns the events the chunk completed, ``flush()`` ends the
stream. Shaped like httpx's ``_decoders.py``: chunks are split on line ends with ``bytes.split`` (no
per-byte Python loop); a partial line is kept until its end arrives; a ``\\r`` ending one chunk and a
``\\n`` starting the next are one line end; UTF-8 is decoded only after a whole event is collected, so a
multi-byte character split across reads is safe. Pure: no I/O imports.
"""

from __future__ import annotations

from typing import Any, TypedDict

from streaming.json_codec import loads

__all__ = ["DONE", "SSEDecoder", "SSEEvent"]

DONE = "[DONE]"
"""``data: [DONE]``: the end marker some OpenAI-compatible servers send; decoded as this raw string."""

_BOM = b"\xef\xbb\xbf"


class SSEEvent(TypedDict):
    """One dispatched event: ``event`` defaults to ``"message"``; ``data`` is parsed JSON, else the text."""

    event: str
    data: Any


def _parse_data(raw: bytes) -> Any:
    """JSON when it is JSON (the Responses API always sends JSON), else the decoded text (never raises).

    ``json_codec.loads``: orjson's speed (about 5x json's per event), json's reading of odd input.
    """
    try:
        return loads(raw)
    except (ValueError, RecursionError):  # also UnicodeDecodeError; RecursionError: absurdly deep nesting
        return raw.decode("utf-8", "replace")


class SSEDecoder:
    """Incremental event-stream decoder: ``feed(bytes) -> list[SSEEvent]``, ``flush() -> []``.

    Line ends are normalised to ``\\n`` per chunk, then the buffered bytes are cut at the last blank line
    (``\\n\\n``): everything before it is whole events, parsed block by block (the usual
    ``event: x`` + one ``data:`` line shape takes a fast path); the rest waits for more bytes.
    """

    __slots__ = ("_at_start", "_buffer", "_names", "_skip_lf", "truncated")

    def __init__(self) -> None:
        self._buffer: list[bytes] = []  # normalised bytes after the last blank line
        self._skip_lf = False  # the previous chunk ended with "\r": a leading "\n" belongs to it
        self._at_start = True  # a UTF-8 BOM may open the stream
        self._names: dict[bytes, str] = {}  # decoded event names (a stream repeats a few dozen)
        self.truncated = False
        """Set by ``flush()`` when the stream ended inside an event (which is dropped, per the spec)."""

    @property
    def pending(self) -> bool:
        """Bytes of an event (or of a non-comment line) are buffered that no blank line has completed."""
        return any(line and line[:1] != b":" for line in b"".join(self._buffer).split(b"\n"))

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        if not chunk:
            return []
        if b"\r" in chunk:
            if chunk[-1:] == b"\r":
                self._skip_lf = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer
        if b"\n" not in chunk:  # no line end, so no blank line: nothing completes
            buffer.append(chunk)
            return []
        if buffer:
            seam = sum(map(len, buffer))
            buffer.append(chunk)
            chunk = b"".join(buffer)
            end = chunk.rfind(b"\n\n", seam - 1)
        else:
            end = chunk.rfind(b"\n\n")
        if self._at_start:
            self._at_start = False
            if chunk.startswith(_BOM):
                chunk, end = chunk[3:], end - 3
        if end < 0:
            self._buffer = [chunk]
            return []
        rest = chunk[end + 2 :]
        self._buffer = [rest] if rest else []
        return self._parse(chunk[:end])

    def flush(self) -> list[SSEEvent]:
        """End of stream: an event without its closing blank line is discarded (WHATWG; both SDKs)."""
        self.truncated = self.pending
        self._buffer = []
        return []

    def _name(self, raw: bytes) -> str:
        name = self._names.get(raw)
        if name is None:
            name = self._names[raw] = raw.decode("utf-8", "replace") or "message"
        return name

    def _parse(self, complete: bytes) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for block in complete.split(b"\n\n"):
            if block[:7] == b"event: ":
                newline = block.find(b"\n")
                if (
                    newline > 0
                    and block[newline + 1 : newline + 7] == b"data: "
                    and b"\n" not in block[newline + 7 :]
                ):
                    raw = block[newline + 7 :]
                    events.append(
                        {
                            "event": self._name(block[7:newline]),
                            "data": DONE if raw == b"[DONE]" else _parse_data(raw),
                        }
                    )
                    continue
            elif block[:6] == b"data: " and b"\n" not in block:
                raw = block[6:]
                events.append({"event": "message", "data": DONE if raw == b"[DONE]" else _parse_data(raw)})
                continue
            event = self._parse_block(block)
            if event is not None:
                events.append(event)
        return events

    def _parse_block(self, block: bytes) -> SSEEvent | None:
        """The general rules for one event's lines (no blank line inside; leading ones are harmless)."""
        name = b""
        data: list[bytes] = []
        for line in block.split(b"\n"):
            if not line or line[0] == 58:  # blank (already a boundary) or b":" comment / keepalive
                continue
            colon = line.find(b":")
            if colon < 0:
                field, value = line, b""
            else:
                field, value = line[:colon], line[colon + 1 :]
                if value[:1] == b" ":
                    value = value[1:]
            if field == b"data":
                data.append(value)
            elif field == b"event":
                name = value
            # "id", "retry" and unknown fields: ignored (the gateway never reconnects upstream).
        if not data:  # an event with no data lines is not dispatched
            return None
        raw = b"\n".join(data)
        return {"event": self._name(name), "data": DONE if raw == b"[DONE]" else _parse_data(raw)}
