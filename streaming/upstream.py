"""The one module that calls the upstream: create a response, open a stream, count input tokens.

Each call takes the request's route (``streaming.control.routing.Route``), whose upstream value says
where to send it. What an upstream turned out not to support (``streaming.control.capabilities``) is
handled here, so views never retry anything themselves.
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
from streaming.control.routing import Route
from streaming.translate.token_estimate import estimate_input_tokens
from streaming.transport import (
    OpenAIStream,
    OpenAIUpstreamError,
    count_openai_input_tokens,
    create_openai_response,
    open_openai_stream,
)

logger = logging.getLogger("streaming")
T = TypeVar("T")


async def _without_refused_summary(
    route: Route, payload: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Awaitable[T]]
) -> T:
    """``call(payload)``, without reasoning summaries where the upstream refuses them (learned once)."""
    base_url = route.upstream.base_url
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


async def create(route: Route, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A finished Responses object for ``payload``."""
    return await _without_refused_summary(
        route, payload, lambda sent: create_openai_response(sent, route.upstream)
    )


async def open_stream(route: Route, payload: Mapping[str, Any]) -> OpenAIStream:
    """An upstream event stream that answered 2xx (error statuses are raised here)."""
    return await _without_refused_summary(
        route, payload, lambda sent: open_openai_stream(sent, route.upstream)
    )


async def count_tokens(route: Route, payload: Mapping[str, Any]) -> int:
    """Tokens the upstream would count for this payload's input, by the configured strategy."""
    mode = gateway_settings.COUNT_TOKENS
    upstream = route.upstream
    if mode == "local" or (
        mode == "auto" and (lacks(upstream.base_url, "input_tokens") or not upstream.api_key)
    ):
        return estimate_input_tokens(payload)
    try:
        return await count_openai_input_tokens(payload, upstream)
    except OpenAIUpstreamError as exc:
        if mode == "upstream":
            raise
        if exc.status_code in (404, 405, 501):
            learn_lacks(upstream.base_url, "input_tokens")
        logger.warning("upstream token counting failed (%s); using the local estimate", exc.status_code)
        return estimate_input_tokens(payload)
