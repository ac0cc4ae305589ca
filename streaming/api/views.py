"""Thin async views: auth -> parse -> translate -> transport -> respond.

Everything below a view raises; ``streaming.api.decorators.api_view`` turns failures into Anthropic envelopes.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any, TypeVar

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse

from streaming.api.decorators import api_view, json_response, request_id, to_gateway_error
from streaming.api.model_list import model_info, model_page, served_model
from streaming.api.relay import EventStreamResponse, relay, translate_batch
from streaming.conf import gateway_settings
from streaming.control.auth import authenticate
from streaming.control.routing import route_for
from streaming.errors import BadGatewayError, InvalidRequestError, NotFoundError, RequestTooLargeError
from streaming.translate.request import translate_request
from streaming.translate.response import response_to_message
from streaming.translate.stream import StreamTranslator
from streaming.transport import (
    SSEEvent,
    create_openai_response,
    openai_event_batches,
    require_openai_api_key,
)
from streaming.upstream import call_upstream, count_input_tokens

logger = logging.getLogger("streaming")
T = TypeVar("T")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# A \uD800-\uDFFF escape: only then can the parsed body hold a lone surrogate (a pair is fine).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(body: object) -> bool:
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def read_json_body(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, within the size limit; 400/413 with a clear message otherwise."""
    if request.content_type != "application/json":
        raise InvalidRequestError(
            f"Content-Type must be application/json (got {request.content_type or 'none'!r})."
        )
    limit = gateway_settings.MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"Request body exceeds the limit of {limit} bytes.")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise RequestTooLargeError(f"Request body exceeds the limit of {limit} bytes.")
    try:
        body = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"Request body is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(body):
        # Anthropic rejects these as invalid JSON; upstream they could not be encoded anyway.
        raise InvalidRequestError("Request body is not valid JSON: it contains a lone UTF-16 surrogate.")
    if not isinstance(body, dict):
        raise InvalidRequestError("Request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise InvalidRequestError("model: Field required")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: Input should be a non-empty string")
    return body


async def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves requests (no upstream call)."""
    return JsonResponse({"status": "ok"})


async def _open_stream(
    payload: Mapping[str, Any], api_key: str, translator: StreamTranslator
) -> tuple[AsyncGenerator[list[SSEEvent], None], bytes]:
    """Open the upstream stream and translate its first read, before any byte goes to the client.

    Failures until then (HTTP errors, or an error as the stream's very first event) are raised, so the
    client gets a plain HTTP error rather than a 200 stream with an error inside.
    """
    batches = openai_event_batches(payload, api_key=api_key)
    try:
        first = translate_batch(translator, await anext(batches))
        if translator.error is not None and not translator.started:
            raise translator.error
    except StopAsyncIteration:
        await batches.aclose()
        raise BadGatewayError("The upstream closed the stream without sending an event.") from None
    except BaseException:
        await batches.aclose()
        raise
    return batches, first


async def _create_message(request: HttpRequest, *, always_stream: bool) -> HttpResponseBase:
    await authenticate(request.headers)
    body = read_json_body(request)
    translated = translate_request(body, route_for(body["model"]), signing_key=gateway_settings.SIGNING_KEY)
    api_key = require_openai_api_key()
    if not (always_stream or body.get("stream") is True):
        upstream = await call_upstream(
            translated.payload, lambda payload: create_openai_response(payload, api_key=api_key)
        )
        return json_response(response_to_message(upstream, translated.context, secrets=(api_key,)))

    translator = StreamTranslator(translated.context, request_id=request_id(), secrets=(api_key,))
    batches, first = await call_upstream(
        translated.payload, lambda payload: _open_stream(payload, api_key, translator)
    )
    return EventStreamResponse(
        relay(
            first,
            batches,
            translator,
            ping_interval=gateway_settings.PING_INTERVAL,
            to_gateway_error=to_gateway_error,
        )
    )


@api_view("POST")
async def messages(request: HttpRequest) -> HttpResponseBase:
    """``POST /v1/messages``: JSON, or Anthropic SSE with ``"stream": true``."""
    return await _create_message(request, always_stream=False)


@api_view("POST")
async def messages_stream(request: HttpRequest) -> HttpResponseBase:
    """``POST /v1/messages/stream``: same body, always streams."""
    return await _create_message(request, always_stream=True)


@api_view("POST")
async def count_tokens(request: HttpRequest) -> HttpResponse:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}`` for a would-be request."""
    await authenticate(request.headers)
    body = read_json_body(request)
    translated = translate_request(
        body, route_for(body["model"]), signing_key=gateway_settings.SIGNING_KEY, count_only=True
    )
    return json_response({"input_tokens": await count_input_tokens(translated.payload)})


@api_view("GET")
async def models_list(request: HttpRequest) -> HttpResponse:
    """``GET /v1/models``: the client-facing model names, in Anthropic's list shape."""
    await authenticate(request.headers)
    return json_response(model_page(gateway_settings.MODELS, request.GET))


@api_view("GET")
async def model_detail(request: HttpRequest, model_id: str) -> HttpResponse:
    """``GET /v1/models/{id}``."""
    await authenticate(request.headers)
    if not served_model(model_id):
        raise NotFoundError(f"model: {model_id}")
    return json_response(model_info(model_id))
