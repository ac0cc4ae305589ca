"""The one module that calls the upstream: create a response, open a stream, count input tokens.

Each call takes the request's route (``streaming.control.routing.Route``), whose upstream value says
where to send it. What an upstream turns out not to support is handled here, so views never retry
anything themselves: a 400 refusing a parameter the gateway can leave out (``temperature``,
``top_p``, ``reasoning``, ``reasoning.effort``, ``reasoning.summary``) is retried once without it and
remembered for every worker (``streaming.control.capabilities``); an upstream without the token-counting
endpoint is remembered and estimated locally.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from streaming.conf import gateway_settings
from streaming.control import capabilities
from streaming.control.routing import Route
from streaming.translate.request import without_parameter
from streaming.translate.token_estimate import estimate_input_tokens
from streaming.translate.types import ResponsesPayload
from streaming.transport import (
    OpenAIStream,
    OpenAIUpstreamError,
    count_openai_input_tokens,
    create_openai_response,
    open_openai_stream,
)

logger = logging.getLogger("streaming")
T = TypeVar("T")


def _sends(payload: Mapping[str, Any], param: str) -> bool:
    field, _, sub = param.partition(".")
    value = payload.get(field)
    return value is not None and (not sub or (isinstance(value, Mapping) and sub in value))


async def _learning(
    route: Route, payload: Mapping[str, Any], call: Callable[[Mapping[str, Any]], Awaitable[T]]
) -> T:
    """``call(payload)``; on a 400 refusing a parameter it sent, learn that and call again without it.

    Each parameter is left out at most once per request, so a model refusing several costs one retry each.
    """
    left_out: set[str] = set()
    while True:
        try:
            return await call(payload)
        except OpenAIUpstreamError as exc:
            param = capabilities.refused_parameter(exc)
            if param is None or param in left_out or not _sends(payload, param):
                raise
        left_out.add(param)
        capabilities.learn(route.upstream.name, route.target.upstream_model, param)
        payload = without_parameter(cast(ResponsesPayload, payload), param)


async def create(route: Route, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A finished Responses object for ``payload``."""
    return await _learning(route, payload, lambda sent: create_openai_response(sent, route.upstream))


async def open_stream(route: Route, payload: Mapping[str, Any]) -> OpenAIStream:
    """An upstream event stream that answered 2xx (error statuses are raised here)."""
    return await _learning(route, payload, lambda sent: open_openai_stream(sent, route.upstream))


async def count_tokens(route: Route, payload: Mapping[str, Any]) -> int:
    """Tokens the upstream would count for this payload's input, by the configured strategy."""
    mode = gateway_settings.COUNT_TOKENS
    upstream = route.upstream
    missing = capabilities.COUNTING_ENDPOINT in route.target.unsupported
    if mode == "local" or (mode == "auto" and (missing or upstream.problem)):
        return estimate_input_tokens(payload)
    try:
        return await count_openai_input_tokens(payload, upstream)
    except OpenAIUpstreamError as exc:
        if mode == "upstream":
            raise
        if exc.status_code in (404, 405, 501):
            capabilities.learn(upstream.name, route.target.upstream_model, capabilities.COUNTING_ENDPOINT)
        logger.warning("upstream token counting failed (%s); using the local estimate", exc.status_code)
        return estimate_input_tokens(payload)
