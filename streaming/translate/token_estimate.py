"""An offline estimate of a Responses payload's input tokens, for ``count_tokens`` without the upstream.

No tokenizer download: about four characters of text per token, plus a small per-item overhead and a
flat cost per image or file. Pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

_CHARS_PER_TOKEN = 4
_ITEM_OVERHEAD = 4
_IMAGE_TOKENS = 1_000
_FILE_TOKENS = 1_500


def _text_tokens(text: str) -> int:
    return math.ceil(len(text) / _CHARS_PER_TOKEN)


def _content_tokens(value: Any) -> int:
    if isinstance(value, str):
        return _text_tokens(value)
    if isinstance(value, list):
        return sum(_content_tokens(part) for part in value)
    if not isinstance(value, dict):
        return 0
    kind = value.get("type")
    if kind == "input_image":
        return _IMAGE_TOKENS
    if kind == "input_file":
        return _FILE_TOKENS
    if kind == "function_call":
        return (
            _ITEM_OVERHEAD
            + _text_tokens(str(value.get("name", "")))
            + _text_tokens(str(value.get("arguments", "")))
        )
    if kind == "reasoning":
        return sum(_content_tokens(part) for part in value.get("summary", []))
    tokens = _ITEM_OVERHEAD if kind in (None, "message", "function_call_output") else 0
    for key in ("text", "content", "output"):
        if key in value:
            tokens += _content_tokens(value[key])
    return tokens


def estimate_input_tokens(payload: Mapping[str, Any]) -> int:
    """An offline estimate of the input tokens of a Responses payload (pure)."""
    tokens = _text_tokens(str(payload.get("instructions") or ""))
    tokens += _content_tokens(payload.get("input", []))
    if payload.get("tools"):
        tokens += _text_tokens(json.dumps(payload["tools"], separators=(",", ":")))
    return max(tokens, 1)
