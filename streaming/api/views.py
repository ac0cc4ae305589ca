"""The API views, each a straight line: authenticate -> parse -> route -> call the upstream -> respond.

Everything below a view raises; ``api_view`` turns failures into Anthropic envelopes through the one
error map and completes the request's outcome (a stream's relay completes its own).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.utils.crypto import constant_time_compare

from streaming import upstream
from streaming.api.body import read_json_body
from streaming.api.decorators import api_view, operator_view
from streaming.api.model_list import model_info, model_page
from streaming.api.relay import start_relay
from streaming.api.responses import error_response, json_response, request_id
from streaming.conf import gateway_settings
from streaming.control.auth import authenticate, check_model_allowed
from streaming.control.limits import admit
from streaming.control.registry import ClientIdentity, registry
from streaming.control.routing import Route, route_for, served_models, serves
from streaming.errors import AuthenticationError, NotFoundError
from streaming.observability import metrics
from streaming.outcome import Outcome
from streaming.translate.request import translate_request
from streaming.translate.response import response_to_message
from streaming.translate.stream import StreamTranslator


@operator_view("GET", "HEAD")
async def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process serves requests (no key, no upstream call)."""
    return JsonResponse({"status": "ok"})


@operator_view("GET")
async def metrics_page(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` (Prometheus): 404 unless ``GATEWAY_METRICS_TOKEN`` is set, then Bearer auth."""
    token = gateway_settings.METRICS_TOKEN
    if token is None:
        return error_response(NotFoundError(f"Not found: {request.path}"))
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not constant_time_compare(given.strip(), token):
        return error_response(
            AuthenticationError("GET /metrics needs Authorization: Bearer <GATEWAY_METRICS_TOKEN>.")
        )
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)


async def _authenticate(request: HttpRequest, outcome: Outcome) -> ClientIdentity:
    identity = await authenticate(request.headers, request.META.get("REMOTE_ADDR"))
    outcome.client_key_id, outcome.client_key_name = identity.id, identity.name
    return identity


async def _route(body: dict[str, Any], identity: ClientIdentity, outcome: Outcome) -> Route:
    model = body["model"]
    check_model_allowed(identity, model)
    route = route_for(model, await registry.snapshot())
    outcome.routed(model, route.upstream.name, route.target.upstream_model)
    return route


async def _create_message(request: HttpRequest, outcome: Outcome, *, always_stream: bool) -> HttpResponseBase:
    identity = await _authenticate(request, outcome)
    body = read_json_body(request)
    route = await _route(body, identity, outcome)
    outcome.stream = always_stream or body.get("stream") is True
    await admit(identity, outcome, stream=outcome.stream)
    payload, context = translate_request(body, route.target, signing_key=gateway_settings.SIGNING_KEY)
    # The request is held once from here on: the parsed body goes now, the payload once it is sent.
    del body
    secrets = route.upstream.secrets
    if outcome.stream:
        translator = StreamTranslator(context, request_id=request_id(), secrets=secrets)
        stream = await upstream.open_stream(route, payload)
        del payload
        return await start_relay(stream, translator, outcome, ping_interval=gateway_settings.PING_INTERVAL)
    answer = await upstream.create(route, payload)
    del payload
    message = response_to_message(answer, context, secrets=secrets)
    outcome.stop_reason = message["stop_reason"]
    outcome.set_usage(message["usage"])
    return json_response(message)


@api_view("POST")
async def messages(request: HttpRequest, outcome: Outcome) -> HttpResponseBase:
    """``POST /v1/messages``: JSON, or Anthropic SSE with ``"stream": true``."""
    return await _create_message(request, outcome, always_stream=False)


@api_view("POST")
async def messages_stream(request: HttpRequest, outcome: Outcome) -> HttpResponseBase:
    """``POST /v1/messages/stream``: same body, always streams."""
    return await _create_message(request, outcome, always_stream=True)


@api_view("POST")
async def count_tokens(request: HttpRequest, outcome: Outcome) -> HttpResponse:
    """``POST /v1/messages/count_tokens``: ``{"input_tokens": N}`` for a would-be request."""
    identity = await _authenticate(request, outcome)
    body = read_json_body(request)
    route = await _route(body, identity, outcome)
    await admit(identity, outcome, stream=False)
    translated = translate_request(
        body, route.target, signing_key=gateway_settings.SIGNING_KEY, count_only=True
    )
    outcome.input_tokens = await upstream.count_tokens(route, translated.payload)
    return json_response({"input_tokens": outcome.input_tokens})


@api_view("GET")
async def models_list(request: HttpRequest, outcome: Outcome) -> HttpResponse:
    """``GET /v1/models``: what the routes serve and this key may use, in Anthropic's list shape."""
    identity = await _authenticate(request, outcome)
    names = [name for name in served_models(await registry.snapshot()) if identity.allows(name)]
    return json_response(model_page(names, request.GET))


@api_view("GET")
async def model_detail(request: HttpRequest, outcome: Outcome, model_id: str) -> HttpResponse:
    """``GET /v1/models/{id}``."""
    identity = await _authenticate(request, outcome)
    if not (identity.allows(model_id) and serves(model_id, await registry.snapshot())):
        raise NotFoundError(f"model: {model_id}")
    return json_response(model_info(model_id))
