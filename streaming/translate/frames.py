"""Outbound Anthropic SSE frames: ``event: <name>\\ndata: <compact json>\\n\\n`` as UTF-8 bytes.

Pure and hot: one call per client event. Whole frames are encoded by orjson (``json_codec``), and the
most frequent frame, a content block delta, is assembled from a prefix precomputed per block plus one
escaped string (``encode_delta``), which gives byte-for-byte what ``encode_event`` would.

JSON escapes every control character, so ``data`` never contains a raw ``\\r`` or ``\\n`` and one
``data:`` line always suffices (WHATWG SSE; the SDKs split lines on ``\\r``/``\\n`` bytes only).
Text is written raw (``ensure_ascii=False``), as Anthropic's API does.
"""

from __future__ import annotations

from collections.abc import Mapping
from json.encoder import encode_basestring, encode_basestring_ascii
from typing import Any

from streaming.json_codec import dumps_ascii_fallback

_escape = encode_basestring  # the C implementation: '"' + escaped + '"', non-ASCII kept raw
_DELTA_SUFFIX = b"}}\n\n"


def encode_event(name: str, data: Mapping[str, Any]) -> bytes:
    """One complete SSE frame for ``data`` under the event name ``name`` (a lone surrogate from upstream is
    written as an ASCII escape rather than failing the stream)."""
    return b"event: " + name.encode() + b"\ndata: " + dumps_ascii_fallback(data) + b"\n\n"


def delta_prefix(index: int, delta_type: str, field: str) -> bytes:
    """Everything of a ``content_block_delta`` frame up to the delta's string value (built once per block)."""
    head = 'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
    return f'{head}{index},"delta":{{"type":{_escape(delta_type)},{_escape(field)}:'.encode()


def encode_delta(prefix: bytes, value: str) -> bytes:
    """A ``content_block_delta`` frame: ``prefix`` from ``delta_prefix`` plus the delta's string value."""
    try:
        return prefix + _escape(value).encode() + _DELTA_SUFFIX
    except UnicodeEncodeError:  # a lone surrogate from upstream: escape it rather than fail the stream
        return prefix + encode_basestring_ascii(value).encode() + _DELTA_SUFFIX


PING = encode_event("ping", {"type": "ping"})
MESSAGE_STOP = encode_event("message_stop", {"type": "message_stop"})
