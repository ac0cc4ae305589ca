"""Input-token counting for ``count_tokens``: the upstream's counting endpoint, else a local estimate.

The estimate works offline (no tokenizer download): about four characters of text per token, plus a
small per-item overhead and a flat cost per image or file. Upstreams that answer 404/405/501 for the
counting endpoint are remembered (``streaming.capabilities``) and not asked again.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from streaming.capabilities import asks_reasoning_summary, lacks, learn_lacks, without_reasoning_summary
from streaming.conf import gateway_settings
from streaming.transport import OpenAIUpstreamError, count_openai_input_tokens, require_openai_api_key

logger = logging.getLogger("streaming")

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


async def count_input_tokens(payload: Mapping[str, Any]) -> int:
    """Tokens the upstream would count for this payload's input, by the configured strategy."""
    mode = gateway_settings.COUNT_TOKENS
    base_url = gateway_settings.OPENAI_BASE_URL
    key = gateway_settings.OPENAI_API_KEY
    if mode == "local" or (mode == "auto" and (lacks(base_url, "input_tokens") or not key)):
        return estimate_input_tokens(payload)
    if asks_reasoning_summary(payload):
        # Summaries change nothing about input tokens, and unverified organisations are refused them.
        payload = without_reasoning_summary(payload)
    try:
        # The transport sends only the fields the counting endpoint accepts.
        return await count_openai_input_tokens(payload, api_key=key or require_openai_api_key())
    except OpenAIUpstreamError as exc:
        if mode == "upstream":
            raise
        if exc.status_code in (404, 405, 501):
            learn_lacks(base_url, "input_tokens")
        logger.warning("upstream token counting failed (%s); using the local estimate", exc.status_code)
        return estimate_input_tokens(payload)
