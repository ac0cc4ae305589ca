"""The upstream calls: create a response (JSON or an event stream) and count input tokens.

All go through the shared client (``client.py``), the one header builder (``headers.py``) and the SSE
decoder (``sse.py``); every failure leaves as an ``OpenAIUpstreamError`` (``errors.py``). The stream is
an async generator that always closes the upstream response (``async with``), also when its consumer
stops early or is cancelled: a client hanging up must free the upstream connection at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any

import httpx2 as httpx  # the maintained fork of httpx, same API (requirements.txt says why)

from streaming.conf import gateway_settings

from .client import get_client, timeouts
from .errors import (
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
    placeholder_payload,
    upstream_error_from_response,
)
from .headers import build_upstream_headers
from .sse import DONE, SSEDecoder, SSEEvent

__all__ = [
    "INPUT_TOKENS_FIELDS",
    "count_openai_input_tokens",
    "create_openai_response",
    "openai_event_batches",
    "require_openai_api_key",
    "stream_openai_events",
    "transport_error",
]

INPUT_TOKENS_FIELDS = frozenset(
    {
        "conversation",
        "input",
        "instructions",
        "model",
        "parallel_tool_calls",
        "personality",
        "previous_response_id",
        "reasoning",
        "text",
        "tool_choice",
        "tools",
        "truncation",
    }
)
"""What ``POST /responses/input_tokens`` accepts (openai-python ``resources/responses/input_tokens.py``)."""


def require_openai_api_key() -> str:
    """The configured upstream key, or ``UpstreamNotConfigured`` saying how to set it."""
    key = gateway_settings.OPENAI_API_KEY
    if not key:
        raise UpstreamNotConfigured(
            "OPENAI_API_KEY is not set: put the upstream API key in the OPENAI_API_KEY environment "
            "variable (or the OPENAI_API_KEY Django setting)."
        )
    return key


def _url(base_url: str | None, path: str) -> str:
    base = (base_url or gateway_settings.OPENAI_BASE_URL).rstrip("/")
    return f"{base}{path}"


def transport_error(exc: httpx.HTTPError) -> OpenAIUpstreamError:
    """The upstream error for an httpx failure; the message names the phase, never the URL or key."""
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamPoolFull(f"no free upstream connection within {gateway_settings.POOL_TIMEOUT:g} s")
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
        }.get(type(exc), "request")
        return UpstreamTimeoutError(f"upstream {phase} timeout")
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.ProxyError):
        return UpstreamConnectError("upstream unreachable")
    if isinstance(exc, httpx.TransportError):  # ReadError, WriteError, RemoteProtocolError, ...
        return UpstreamStreamError("upstream connection broke mid-response")
    return OpenAIUpstreamError("upstream request failed")


async def _raise_for_status(response: httpx.Response, api_key: str) -> None:
    if response.is_error:
        body = await response.aread()
        raise upstream_error_from_response(
            response.status_code, body, response.headers, secrets=(api_key, gateway_settings.OPENAI_API_KEY)
        )


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The request body as strict UTF-8 JSON, serialised once, here.

    Raises ``UnencodablePayload`` (a client fault, answered 400) for what strict JSON cannot carry: lone
    surrogates, non-finite numbers, nesting deeper than the interpreter's recursion limit.
    """
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except UnicodeEncodeError:
        raise UnencodablePayload(
            "it contains a lone UTF-16 surrogate (a string cut inside a character)"
        ) from None
    except RecursionError:
        raise UnencodablePayload("it is nested too deeply") from None
    except ValueError as exc:
        raise UnencodablePayload(str(exc)) from None


def _invalid_body(response: httpx.Response, what: str) -> OpenAIUpstreamError:
    payload = placeholder_payload(f"upstream returned {what}", "api_error")
    return OpenAIUpstreamError(payload=payload, headers=response.headers)


async def _post_json(path: str, payload: Mapping[str, Any], base_url: str | None, api_key: str | None) -> Any:
    key = api_key or require_openai_api_key()
    try:
        response = await get_client().post(
            _url(base_url, path),
            content=encode_payload(payload),
            headers=build_upstream_headers(key),
            timeout=timeouts(),
        )
        await _raise_for_status(response, key)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:
        raise _invalid_body(response, "a body that is not valid JSON") from exc


async def create_openai_response(
    payload: Mapping[str, Any], *, base_url: str | None = None, api_key: str | None = None
) -> dict[str, Any]:
    """``POST {base}/responses`` (not streaming): the parsed response object."""
    body = await _post_json("/responses", payload, base_url, api_key)
    if not isinstance(body, dict):
        raise OpenAIUpstreamError(
            payload=placeholder_payload("upstream returned a non-object body", "api_error")
        )
    return body


async def count_openai_input_tokens(
    payload: Mapping[str, Any], *, base_url: str | None = None, api_key: str | None = None
) -> int:
    """``POST {base}/responses/input_tokens`` -> ``input_tokens``.

    Only the fields that endpoint accepts are sent (a Responses payload also has ``stream``,
    ``max_output_tokens``, ``include`` ...). A 404/405 means the upstream has no counting endpoint: the
    caller falls back to a local estimate.
    """
    body = await _post_json(
        "/responses/input_tokens",
        {name: value for name, value in payload.items() if name in INPUT_TOKENS_FIELDS},
        base_url,
        api_key,
    )
    tokens = body.get("input_tokens") if isinstance(body, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise OpenAIUpstreamError(
            payload=placeholder_payload("upstream returned no input_tokens", "api_error")
        )
    return tokens


async def openai_event_batches(
    payload: Mapping[str, Any], *, base_url: str | None = None, api_key: str | None = None
) -> AsyncGenerator[list[SSEEvent], None]:
    """``POST {base}/responses`` with ``stream: true``: per upstream read, the events it completed.

    Yielding whole reads (never an empty list, never holding an event back) keeps the per-event cost low
    and the latency at zero. Errors before the first yield are ``OpenAIUpstreamError``s for an HTTP
    status; after it, the stream raises ``UpstreamStreamError``/``UpstreamTimeoutError``. Ends at the
    upstream's EOF or at a ``data: [DONE]`` (which is not yielded).
    """
    key = api_key or require_openai_api_key()
    body = encode_payload({**payload, "stream": True})
    decoder = SSEDecoder()
    try:
        async with get_client().stream(
            "POST",
            _url(base_url, "/responses"),
            content=body,
            headers=build_upstream_headers(key, stream=True),
            timeout=timeouts(),
        ) as response:
            await _raise_for_status(response, key)
            async for chunk in response.aiter_bytes():
                events = decoder.feed(chunk)
                if not events:
                    continue
                for index, event in enumerate(events):
                    if event["data"] == DONE:
                        if index:
                            yield events[:index]
                        return
                yield events
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    decoder.flush()
    if decoder.truncated:
        raise UpstreamStreamError("upstream event stream ended mid-event")


async def stream_openai_events(
    payload: Mapping[str, Any], *, base_url: str | None = None, api_key: str | None = None
) -> AsyncGenerator[SSEEvent, None]:
    """The same stream, one event at a time: ``{"event": name, "data": parsed JSON}``."""
    async with aclosing(openai_event_batches(payload, base_url=base_url, api_key=api_key)) as batches:
        async for batch in batches:
            for event in batch:
                yield event
