"""The upstream calls: create a response, open an event stream, count input tokens.

Each takes the upstream as a value (``config.UpstreamConfig``: URL, key, headers, timeouts) and reads no
settings for it. All go through the shared client (``client.py``), the one header builder
(``headers.py``) and the SSE decoder (``sse_decoder.py``); every failure leaves as an
``OpenAIUpstreamError`` (``errors.py``). An opened stream is always closed (``OpenAIStream.aclose``, also
when its consumer stops early or is cancelled): a client hanging up must free the upstream connection
at once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import httpx2 as httpx  # the maintained fork of httpx, same API (requirements.txt says why)

from streaming.json_codec import dumps, loads

from .client import get_client, httpx_timeout
from .config import UpstreamConfig, settings_upstream
from .errors import (
    OpenAIUpstreamError,
    UnencodablePayload,
    UpstreamConnectError,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
    placeholder_payload,
    upstream_error_from_response,
)
from .headers import build_upstream_headers
from .sse_decoder import DONE, SSEDecoder, SSEEvent

__all__ = [
    "OpenAIStream",
    "count_openai_input_tokens",
    "create_openai_response",
    "list_openai_models",
    "open_openai_stream",
    "openai_event_batches",
    "stream_openai_events",
    "transport_error",
]


def transport_error(exc: httpx.HTTPError) -> OpenAIUpstreamError:
    """The upstream error for an httpx failure; the message names the phase, never the URL or key."""
    if isinstance(exc, httpx.PoolTimeout):
        return UpstreamPoolFull("every upstream connection stayed busy for the pool timeout")
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connect",
            httpx.ReadTimeout: "read",
            httpx.WriteTimeout: "write",
        }.get(type(exc), "request")
        error = UpstreamTimeoutError(f"upstream {phase} timeout")
        error.phase = phase
        return error
    if isinstance(exc, httpx.ConnectError | httpx.UnsupportedProtocol | httpx.ProxyError):
        return UpstreamConnectError("upstream unreachable")
    if isinstance(exc, httpx.TransportError):  # ReadError, WriteError, RemoteProtocolError, ...
        return UpstreamStreamError("upstream connection broke mid-response")
    return OpenAIUpstreamError("upstream request failed")


async def _raise_for_status(response: httpx.Response, upstream: UpstreamConfig) -> None:
    if response.is_error:
        body = await response.aread()
        raise upstream_error_from_response(
            response.status_code, body, response.headers, secrets=upstream.secrets
        )


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The request body as strict UTF-8 JSON, serialised once, here.

    Raises ``UnencodablePayload`` (a client fault, answered 400) for what strict JSON cannot carry: lone
    surrogates, non-finite numbers, nesting deeper than the interpreter's recursion limit.
    """
    try:
        return dumps(payload)  # built from validated bodies: no NaN for orjson to write as null
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


async def _post_json(path: str, payload: Mapping[str, Any], upstream: UpstreamConfig) -> Any:
    upstream.require_key()
    try:
        response = await get_client().post(
            upstream.url(path),
            content=encode_payload(payload),
            headers=build_upstream_headers(upstream),
            timeout=httpx_timeout(upstream.timeouts),
        )
        await _raise_for_status(response, upstream)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    try:
        return loads(response.content)
    except (ValueError, RecursionError) as exc:
        raise _invalid_body(response, "a body that is not valid JSON") from exc


async def create_openai_response(payload: Mapping[str, Any], upstream: UpstreamConfig) -> dict[str, Any]:
    """``POST {base}/responses`` (not streaming): the parsed response object."""
    body = await _post_json("/responses", payload, upstream)
    if not isinstance(body, dict):
        raise OpenAIUpstreamError(
            payload=placeholder_payload("upstream returned a non-object body", "api_error")
        )
    return body


async def list_openai_models(upstream: UpstreamConfig, *, time_limit: float) -> tuple[int, Any]:
    """``GET {base}/models``: the status and the parsed body (``None`` if it is not JSON).

    The admin's connection test: free, changes nothing, and authenticated by OpenAI, Azure OpenAI and most
    compatible servers. Error statuses raise ``OpenAIUpstreamError`` like every other call.
    """
    upstream.require_key()
    try:
        response = await get_client().get(
            upstream.url("/models"), headers=build_upstream_headers(upstream), timeout=time_limit
        )
        await _raise_for_status(response, upstream)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    try:
        return response.status_code, loads(response.content)
    except (ValueError, RecursionError):
        return response.status_code, None


async def count_openai_input_tokens(payload: Mapping[str, Any], upstream: UpstreamConfig) -> int:
    """``POST {base}/responses/input_tokens`` -> ``input_tokens``.

    ``payload`` must hold only the fields that endpoint accepts (``translate_request(count_only=True)``
    builds such a payload). A 404/405 means the upstream has no counting endpoint.
    """
    body = await _post_json("/responses/input_tokens", payload, upstream)
    tokens = body.get("input_tokens") if isinstance(body, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise OpenAIUpstreamError(
            payload=placeholder_payload("upstream returned no input_tokens", "api_error")
        )
    return tokens


class OpenAIStream:
    """An upstream event stream that answered 2xx: read it with ``batches()``; ``aclose()`` it always."""

    __slots__ = ("_response",)

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    async def batches(self) -> AsyncGenerator[list[SSEEvent], None]:
        """Per upstream read, the events it completed (never an empty list, never holding one back).

        Yielding whole reads keeps the per-event cost low and the latency at zero. Raises
        ``UpstreamStreamError``/``UpstreamTimeoutError`` when the connection breaks or the stream is cut
        mid-event. Ends at the upstream's EOF or at a ``data: [DONE]`` (not yielded). Closes the
        response when it ends, however it ends.
        """
        decoder = SSEDecoder()
        response = self._response
        # Bytes as received when they are not compressed: aiter_bytes adds a decoder layer per chunk.
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        chunks = response.aiter_raw() if encoding in ("", "identity") else response.aiter_bytes()
        try:
            async for chunk in chunks:
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
        finally:
            await self._response.aclose()
        decoder.flush()
        if decoder.truncated:
            raise UpstreamStreamError("upstream event stream ended mid-event")

    async def aclose(self) -> None:
        await self._response.aclose()


async def _sent_once(body: bytes) -> AsyncIterator[bytes]:
    """The body as a one-chunk stream: once written, nothing keeps it alive.

    Given as bytes, httpx keeps the body on the request, which the response (and so the open stream)
    references to its end: a stream with a 30 MB prompt would hold 30 MB for minutes.
    """
    yield body


async def open_openai_stream(payload: Mapping[str, Any], upstream: UpstreamConfig) -> OpenAIStream:
    """``POST {base}/responses`` with ``stream: true``, up to the response's status and headers.

    An error status is raised here as an ``OpenAIUpstreamError`` (the client then gets a plain HTTP
    error); the events are read from the returned stream.
    """
    upstream.require_key()
    client = get_client()
    body = encode_payload({**payload, "stream": True})
    headers = build_upstream_headers(upstream, stream=True)
    headers["Content-Length"] = str(len(body))
    request = client.build_request(
        "POST",
        upstream.url("/responses"),
        content=_sent_once(body),
        headers=headers,
        timeout=httpx_timeout(upstream.timeouts),
    )
    del body
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        raise transport_error(exc) from exc
    try:
        await _raise_for_status(response, upstream)
    except BaseException as exc:
        await response.aclose()
        if isinstance(exc, httpx.HTTPError):
            raise transport_error(exc) from exc
        raise
    return OpenAIStream(response)


async def openai_event_batches(
    payload: Mapping[str, Any], upstream: UpstreamConfig
) -> AsyncGenerator[list[SSEEvent], None]:
    """Open the stream and yield its batches (``OpenAIStream.batches``); status errors raise at the first read."""
    stream = await open_openai_stream(payload, upstream)
    try:
        async with aclosing(stream.batches()) as batches:
            async for batch in batches:
                yield batch
    finally:
        await stream.aclose()


async def stream_openai_events(
    payload: Mapping[str, Any], upstream: UpstreamConfig | None = None
) -> AsyncGenerator[SSEEvent, None]:
    """The stream one event at a time: ``{"event": name, "data": parsed JSON}``.

    Without ``upstream``, the settings' upstream (``OPENAI_API_KEY``/``OPENAI_BASE_URL``) is used: the
    documented ``stream_openai_events(payload)`` for scripts. Requests always pass their routed upstream.
    """
    async with aclosing(openai_event_batches(payload, upstream or settings_upstream())) as batches:
        async for batch in batches:
            for event in batch:
                yield event
