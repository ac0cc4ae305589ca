"""The one module that calls the upstream: create a response, open a stream, count input tokens.

Each call takes the request's route (``streaming.control.routing.Route``), whose upstream value says
where to send it. What an upstream turns out not to support is handled here, so views never retry
anything themselves: a 400 refusing a parameter the gateway can leave out (``temperature``,
``top_p``, ``reasoning``, ``reasoning.effort``, ``reasoning.summary``) is retried once without it and
remembered for every worker (``streaming.control.capabilities``); an upstream without the token-counting
endpoint is remembered and estimated locally.

Transient failures are retried here too, and only here, before any byte reached the client (a stream is
retried while opening it, never once the relay has it): no connection (refused, connect timeout), 429,
500, 502, 503 and 529 answers, up to ``GATEWAY_UPSTREAM_RETRIES`` times (default 2: three attempts, as the
SDKs make) with exponential backoff and jitter (``BACKOFF_BASE`` doubling, at most ``BACKOFF_CAP``),
honouring ``retry-after``/``retry-after-ms``, and never past ``GATEWAY_UPSTREAM_RETRY_SECONDS`` from the
first attempt (a ``retry-after`` beyond it goes back to the client instead). Not retried: a full
connection pool (the worker is at capacity: 529 at once), an exhausted quota, read timeouts (the
upstream may have done the work), anything the client must fix. The SDKs retry what reaches them too,
so one call may cost up to 3 x 3 upstream attempts in the worst case; the gateway's share is bounded by
its time budget.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar, cast

from streaming.conf import gateway_settings
from streaming.control import capabilities
from streaming.control.counters import shared_cache_unreachable
from streaming.control.db_thread import run_in_db_thread
from streaming.control.routing import Route
from streaming.translate.request import without_parameter
from streaming.translate.token_estimate import estimate_input_tokens
from streaming.translate.types import ResponsesPayload
from streaming.transport import (
    OpenAIStream,
    OpenAIUpstreamError,
    UpstreamConfig,
    UpstreamConnectError,
    UpstreamTimeoutError,
    count_openai_input_tokens,
    create_openai_response,
    list_openai_models,
    open_openai_stream,
)
from streaming.transport.errors import UpstreamPoolFull

logger = logging.getLogger("streaming")
T = TypeVar("T")


BACKOFF_BASE = 0.25
BACKOFF_CAP = 4.0
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 529})
_NOT_TRANSIENT_CODES = frozenset(
    {"insufficient_quota", "billing_hard_limit_reached", "credit_balance_exhausted"}
)


def _retry_after(exc: OpenAIUpstreamError) -> float | None:
    """The upstream's own wait, in seconds (``retry-after-ms`` first, then ``retry-after`` seconds)."""
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = exc.headers.get(header)
        if value is not None:
            try:
                seconds = float(value) * scale
            except ValueError:
                continue
            if 0 <= seconds < 3600:
                return seconds
    return None


def retry_delay(exc: BaseException, attempt: int) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None when ``exc`` is not worth retrying."""
    if isinstance(exc, UpstreamPoolFull):
        return None
    if isinstance(exc, UpstreamConnectError) or (
        isinstance(exc, UpstreamTimeoutError) and exc.phase == "connect"
    ):
        wait = None
    elif (
        type(exc) is OpenAIUpstreamError
        and exc.status_code in RETRYABLE_STATUSES
        and exc.code not in _NOT_TRANSIENT_CODES
    ):
        wait = _retry_after(exc)
    else:
        return None
    backoff: float = min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
    return backoff if wait is None else max(wait, backoff)


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, retried on transient upstream failures within the count and time budget."""
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return await call()
        except OpenAIUpstreamError as exc:
            delay = retry_delay(exc, attempt)
            budget = gateway_settings.UPSTREAM_RETRY_SECONDS - (time.monotonic() - started)
            if delay is None or attempt >= gateway_settings.UPSTREAM_RETRIES or delay > budget:
                raise
            logger.warning("upstream attempt %d failed (%s); retrying in %.2f s", attempt + 1, exc, delay)
        attempt += 1
        await asyncio.sleep(delay)


def _sends(payload: Mapping[str, Any], param: str) -> bool:
    field, _, sub = param.partition(".")
    value = payload.get(field)
    return value is not None and (not sub or (isinstance(value, Mapping) and sub in value))


async def _learn(upstream: str, upstream_model: str, param: str) -> None:
    """``capabilities.learn`` in the database thread (Django's cache is synchronous: Redis I/O stays off the
    loop). When the shared cache is down, nothing is learned and the request goes on."""
    try:
        await run_in_db_thread(lambda: capabilities.learn(upstream, upstream_model, param))
    except Exception as exc:
        shared_cache_unreachable(exc)


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
        await _learn(route.upstream.name, route.target.upstream_model, param)
        payload = without_parameter(cast(ResponsesPayload, payload), param)


async def create(route: Route, payload: Mapping[str, Any]) -> dict[str, Any]:
    """A finished Responses object for ``payload``."""
    return await _learning(
        route, payload, lambda sent: _retrying(lambda: create_openai_response(sent, route.upstream))
    )


async def open_stream(route: Route, payload: Mapping[str, Any]) -> OpenAIStream:
    """An upstream event stream that answered 2xx (error statuses are raised here)."""
    return await _learning(
        route, payload, lambda sent: _retrying(lambda: open_openai_stream(sent, route.upstream))
    )


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
            await _learn(upstream.name, route.target.upstream_model, capabilities.COUNTING_ENDPOINT)
        logger.warning("upstream token counting failed (%s); using the local estimate", exc.status_code)
        return estimate_input_tokens(payload)


async def list_models(upstream: UpstreamConfig, *, time_limit: float) -> tuple[int, Any]:
    """The upstream's model list (the admin's connection test): no retry, it reports what happens."""
    return await list_openai_models(upstream, time_limit=time_limit)
