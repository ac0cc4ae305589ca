"""The one module that calls the upstream: create a response, open a stream, count input tokens.

What the upstream turned out not to support (``streaming.control.capabilities``) is handled here, so
views never retry anything themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from streaming.conf import gateway_settings
from streaming.control.capabilities import (
    asks_reasoning_summary,
    lacks,
    learn_lacks,
    rejects_reasoning_summary,
    without_reasoning_summary,
)
from streaming.translate.token_estimate import estimate_input_tokens
from streaming.transport import OpenAIUpstreamError, count_openai_input_tokens, require_openai_api_key

logger = logging.getLogger("streaming")
T = TypeVar("T")


async def call_upstream(payload: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Awaitable[T]]) -> T:
    """``call(payload)``, without reasoning summaries where the upstream refuses them (learned once)."""
    base_url = gateway_settings.OPENAI_BASE_URL
    if asks_reasoning_summary(payload) and lacks(base_url, "reasoning_summary"):
        payload = without_reasoning_summary(payload)
    try:
        return await call(payload)
    except OpenAIUpstreamError as exc:
        if not (asks_reasoning_summary(payload) and rejects_reasoning_summary(exc)):
            raise
    logger.warning(
        "the upstream refuses reasoning summaries (unverified organisation?); thinking text omitted"
    )
    learn_lacks(base_url, "reasoning_summary")
    return await call(without_reasoning_summary(payload))


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
