"""The upstream calls (streaming/transport/openai.py, headers.py), with the upstream mocked by respx."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing
from typing import Any

import httpx
import httpx2
import pytest
import respx
from django.core.exceptions import ImproperlyConfigured
from django_guid import clear_guid, set_guid

from streaming.transport import (
    OpenAIUpstreamError,
    Timeouts,
    UpstreamConfig,
    UpstreamConnectError,
    UpstreamNotConfigured,
    UpstreamPoolFull,
    UpstreamStreamError,
    UpstreamTimeoutError,
    build_upstream_headers,
    count_openai_input_tokens,
    create_openai_response,
    get_client,
    openai_event_batches,
    settings_upstream,
    stream_openai_events,
)

KEY = "sk-test-0123456789abcdefghijKLMN"
BASE = "https://upstream.test/v1"
PAYLOAD = {"model": "gpt-4.1-mini", "input": "hi"}


@pytest.fixture(autouse=True)
def upstream_settings(settings: Any) -> None:
    settings.OPENAI_API_KEY = KEY
    settings.OPENAI_BASE_URL = BASE


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def correlation_id() -> Iterator[str]:
    guid = "7b4cbf5e0e4a4a3f9a0b1c2d3e4f5a6b"
    set_guid(guid)
    yield guid
    clear_guid()


def frame(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


EVENTS = [{"type": "response.created", "sequence_number": n} for n in range(4)]


class ChunkStream(httpx.AsyncByteStream):
    """A response body delivered in these reads; remembers whether the client closed it."""

    def __init__(self, chunks: list[bytes | Exception]) -> None:
        self.chunks = chunks
        self.closed = False
        self.reads = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            if isinstance(chunk, Exception):
                raise chunk
            self.reads += 1
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


def sse_response(stream: ChunkStream, status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/event-stream"}, stream=stream)


async def collect_batches(**kwargs: Any) -> list[list[dict[str, Any]]]:
    return [batch async for batch in openai_event_batches(PAYLOAD, settings_upstream(), **kwargs)]


async def first_event() -> None:
    """Read one event and stop, closing the generator as Django's handler does (``aclosing``)."""
    async with aclosing(stream_openai_events(PAYLOAD)) as events:
        async for _ in events:
            break


async def call_create() -> None:
    await create_openai_response(PAYLOAD, settings_upstream())


async def call_stream() -> None:
    await collect_batches()


async def call_count() -> None:
    await count_openai_input_tokens(PAYLOAD, settings_upstream())


CALLS: dict[str, tuple[str, Callable[[], Any]]] = {
    "create": ("/responses", call_create),
    "stream": ("/responses", call_stream),
    "count": ("/responses/input_tokens", call_count),
}


def mock_success(router: respx.MockRouter, name: str) -> respx.Route:
    path, _ = CALLS[name]
    if name == "stream":
        return router.post(path).mock(side_effect=lambda _: sse_response(ChunkStream([frame(EVENTS[0])])))
    body = {"object": "response.input_tokens", "input_tokens": 3} if name == "count" else {"id": "resp_1"}
    return router.post(path).mock(return_value=httpx.Response(200, json=body))


# --- configuration and headers ---------------------------------------------------------------------


def test_the_settings_upstream_carries_the_configured_key_and_base_url() -> None:
    upstream = settings_upstream()

    assert (upstream.base_url, upstream.api_key) == (BASE, KEY)
    assert KEY not in repr(upstream)


@pytest.mark.parametrize("value", [None, ""])
def test_the_settings_upstream_names_the_setting_when_its_key_is_missing(
    settings: Any, value: str | None
) -> None:
    settings.OPENAI_API_KEY = value

    with pytest.raises(UpstreamNotConfigured, match="OPENAI_API_KEY"):
        settings_upstream().require_key()


def test_missing_key_is_an_improperly_configured_error() -> None:
    assert issubclass(UpstreamNotConfigured, ImproperlyConfigured)


def upstream_with(**fields: Any) -> UpstreamConfig:
    return UpstreamConfig(**{"name": "test", "base_url": BASE, "api_key": "k", **fields})


def test_headers_carry_bearer_auth_and_json_content_type() -> None:
    headers = build_upstream_headers(upstream_with(api_key="sk-abc"))

    assert headers["Authorization"] == "Bearer sk-abc"
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"


def test_stream_headers_accept_an_event_stream() -> None:
    assert build_upstream_headers(upstream_with(), stream=True)["Accept"] == "text/event-stream"


def test_headers_carry_the_correlation_id_when_one_is_set(correlation_id: str) -> None:
    assert build_upstream_headers(upstream_with())["X-Correlation-ID"] == correlation_id


def test_an_upstream_without_a_key_gets_no_authorization_header() -> None:
    assert "Authorization" not in build_upstream_headers(upstream_with(api_key=None))


def test_an_upstreams_extra_headers_are_sent_but_cannot_replace_the_gateways_own() -> None:
    headers = build_upstream_headers(
        upstream_with(headers={"OpenAI-Organization": "org-1", "Authorization": "Basic x"})
    )

    assert headers["OpenAI-Organization"] == "org-1"
    assert headers["Authorization"] == "Bearer k"


def test_headers_have_no_correlation_id_outside_a_request() -> None:
    clear_guid()

    assert "X-Correlation-ID" not in build_upstream_headers(upstream_with())


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
async def test_every_call_sends_auth_and_correlation_id(
    router: respx.MockRouter, correlation_id: str, name: str
) -> None:
    route = mock_success(router, name)

    await CALLS[name][1]()

    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["x-correlation-id"] == correlation_id


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
async def test_the_settings_upstream_takes_its_timeouts_from_settings_at_call_time(
    router: respx.MockRouter, settings: Any, name: str
) -> None:
    settings.GATEWAY_READ_TIMEOUT = 12.5
    settings.GATEWAY_CONNECT_TIMEOUT = 1.5
    route = mock_success(router, name)

    await CALLS[name][1]()

    timeout = route.calls.last.request.extensions["timeout"]
    assert (timeout["read"], timeout["connect"]) == (12.5, 1.5)


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
async def test_every_call_fails_clearly_without_a_key(settings: Any, name: str) -> None:
    settings.OPENAI_API_KEY = None

    with pytest.raises(UpstreamNotConfigured):
        await CALLS[name][1]()


@pytest.mark.anyio
async def test_a_plain_respx_router_mocks_the_gateways_own_httpx2_client() -> None:
    """tests/respx_httpx2.py: respx patches httpx2's pool, the one the gateway calls, not httpx's."""
    with respx.mock:
        route = respx.post(f"{BASE}/responses").respond(json={"id": "resp_1"})
        await create_openai_response(PAYLOAD, settings_upstream())

    assert route.called
    assert isinstance(get_client(), httpx2.AsyncClient)


# --- create_openai_response ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_posts_the_payload_and_returns_the_parsed_json(router: respx.MockRouter) -> None:
    route = router.post("/responses").mock(return_value=httpx.Response(200, json={"id": "resp_1"}))

    assert await create_openai_response(PAYLOAD, settings_upstream()) == {"id": "resp_1"}
    assert json.loads(route.calls.last.request.content) == PAYLOAD


@pytest.mark.anyio
async def test_each_call_goes_to_its_upstreams_url_with_its_key_and_timeouts() -> None:
    other = UpstreamConfig(
        name="other",
        base_url="https://other.test/openai/v1/",
        api_key="sk-other",
        timeouts=Timeouts(connect=1.0, read=2.0, write=3.0, pool=4.0),
    )
    with respx.mock(base_url="https://other.test/openai/v1") as mock:
        route = mock.post("/responses").mock(return_value=httpx.Response(200, json={}))

        await create_openai_response(PAYLOAD, other)

    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer sk-other"
    assert request.extensions["timeout"] == {"connect": 1.0, "read": 2.0, "write": 3.0, "pool": 4.0}


@pytest.mark.anyio
@pytest.mark.parametrize("body", [b"<html>ok</html>", b"", b"[1, 2]"])
async def test_create_with_an_unusable_body_raises_an_api_error_placeholder(
    router: respx.MockRouter, body: bytes
) -> None:
    router.post("/responses").mock(return_value=httpx.Response(200, content=body))

    with pytest.raises(OpenAIUpstreamError) as caught:
        await create_openai_response(PAYLOAD, settings_upstream())

    assert caught.value.payload["error"]["type"] == "api_error"
    assert caught.value.status_code is None


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
async def test_error_status_raises_with_the_upstream_error_object(
    router: respx.MockRouter, name: str, status: int
) -> None:
    upstream_error = {"message": "Nope.", "type": "invalid_request_error", "param": "model", "code": "x"}
    router.post(CALLS[name][0]).mock(
        return_value=httpx.Response(status, json={"error": {**upstream_error, "internal": "secret stuff"}})
    )

    with pytest.raises(OpenAIUpstreamError) as caught:
        await CALLS[name][1]()

    assert type(caught.value) is OpenAIUpstreamError
    assert caught.value.status_code == status
    assert caught.value.payload == {"error": upstream_error}


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
async def test_upstream_message_containing_the_key_comes_out_redacted(
    router: respx.MockRouter, name: str
) -> None:
    message = (
        f"Incorrect API key provided: {KEY}. Org org-AbCdEf1234567890, other sk-proj-ZZZZZZZZZZZZZZZZZZZZ."
    )
    router.post(CALLS[name][0]).mock(
        return_value=httpx.Response(
            401, json={"error": {"message": message, "type": "invalid_request_error"}}
        )
    )

    with pytest.raises(OpenAIUpstreamError) as caught:
        await CALLS[name][1]()

    shown = json.dumps(caught.value.payload) + str(caught.value)
    assert "sk-" not in shown
    assert "org-" not in shown
    assert caught.value.message == "Incorrect API key provided: [redacted]. Org [redacted], other [redacted]."


@pytest.mark.anyio
async def test_key_that_does_not_look_like_an_openai_key_is_still_redacted(
    router: respx.MockRouter, settings: Any
) -> None:
    settings.OPENAI_API_KEY = "local-proxy-token-42"
    router.post("/responses").mock(
        return_value=httpx.Response(401, json={"error": {"message": "bad token local-proxy-token-42"}})
    )

    with pytest.raises(OpenAIUpstreamError) as caught:
        await create_openai_response(PAYLOAD, settings_upstream())

    assert caught.value.message == "bad token [redacted]"


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize(
    "body", [b"<html><body>502 Bad Gateway</body></html>", b"", b'{"detail": "nope"}', b"[]"], ids=repr
)
async def test_error_without_an_error_object_gets_a_placeholder(
    router: respx.MockRouter, name: str, body: bytes
) -> None:
    router.post(CALLS[name][0]).mock(return_value=httpx.Response(502, content=body))

    with pytest.raises(OpenAIUpstreamError) as caught:
        await CALLS[name][1]()

    assert caught.value.payload == {
        "error": {"message": "upstream returned HTTP 502", "type": "upstream_error"}
    }


@pytest.mark.anyio
async def test_error_keeps_only_retry_hints_and_the_request_id(router: respx.MockRouter) -> None:
    headers = {
        "retry-after": "2",
        "retry-after-ms": "1500",
        "x-request-id": "req_123",
        "set-cookie": "__cf_bm=abc",
        "openai-organization": "org-secret",
    }
    router.post("/responses").mock(return_value=httpx.Response(429, json={"error": {}}, headers=headers))

    with pytest.raises(OpenAIUpstreamError) as caught:
        await create_openai_response(PAYLOAD, settings_upstream())

    assert caught.value.headers == {"retry-after": "2", "retry-after-ms": "1500", "x-request-id": "req_123"}


@pytest.mark.anyio
@pytest.mark.parametrize("name", CALLS)
@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx2.ConnectError("[Errno 111] Connection refused"), UpstreamConnectError),
        (httpx2.ConnectTimeout("timed out"), UpstreamTimeoutError),
        (httpx2.ReadTimeout("timed out"), UpstreamTimeoutError),
        (httpx2.WriteTimeout("timed out"), UpstreamTimeoutError),
        (httpx2.PoolTimeout("timed out"), UpstreamPoolFull),
        (httpx2.RemoteProtocolError("Server disconnected without sending a response."), UpstreamStreamError),
        (httpx2.ReadError("reset"), UpstreamStreamError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
async def test_transport_failures_raise_their_subclass(
    router: respx.MockRouter, name: str, raised: Exception, expected: type[OpenAIUpstreamError]
) -> None:
    router.post(CALLS[name][0]).mock(side_effect=raised)

    with pytest.raises(expected) as caught:
        await CALLS[name][1]()

    assert caught.value.status_code is None
    assert caught.value.payload["error"]["type"] == expected.error_type
    assert caught.value.__cause__ is raised


# --- openai_event_batches / stream_openai_events ---------------------------------------------------


@pytest.mark.anyio
async def test_stream_sends_stream_true_without_mutating_the_payload(router: respx.MockRouter) -> None:
    route = router.post("/responses").mock(return_value=sse_response(ChunkStream([frame(EVENTS[0])])))
    payload = {"model": "gpt", "stream": False, "input": [{"role": "user", "content": "hi"}]}
    snapshot = json.loads(json.dumps(payload))

    await collect_batches_for(payload)

    assert json.loads(route.calls.last.request.content) == {**snapshot, "stream": True}
    assert payload == snapshot
    assert route.calls.last.request.headers["accept"] == "text/event-stream"


async def collect_batches_for(payload: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [batch async for batch in openai_event_batches(payload, settings_upstream())]


@pytest.mark.anyio
async def test_stream_yields_the_events_each_read_completed(router: respx.MockRouter) -> None:
    one, two, three, four = (frame(event) for event in EVENTS)
    reads = [one + two, three[:10], three[10:] + four[:5], b"", four[5:]]
    router.post("/responses").mock(return_value=sse_response(ChunkStream(reads)))

    batches = await collect_batches()

    assert [[event["data"] for event in batch] for batch in batches] == [EVENTS[:2], [EVENTS[2]], [EVENTS[3]]]


@pytest.mark.anyio
async def test_a_compressed_event_stream_is_decompressed(router: respx.MockRouter) -> None:
    body = gzip.compress(b"".join(frame(event) for event in EVENTS))
    router.post("/responses").mock(
        return_value=httpx.Response(
            200, headers={"content-type": "text/event-stream", "content-encoding": "gzip"}, content=body
        )
    )

    batches = await collect_batches()

    assert [event["data"] for batch in batches for event in batch] == EVENTS


@pytest.mark.anyio
async def test_stream_events_are_named_parsed_dicts(router: respx.MockRouter) -> None:
    router.post("/responses").mock(
        return_value=sse_response(ChunkStream([frame(EVENTS[0]), frame(EVENTS[1])]))
    )

    events = [event async for event in stream_openai_events(PAYLOAD)]

    assert events == [
        {"event": "response.created", "data": EVENTS[0]},
        {"event": "response.created", "data": EVENTS[1]},
    ]


@pytest.mark.anyio
async def test_stream_stops_at_done_without_yielding_it(router: respx.MockRouter) -> None:
    body = ChunkStream([frame(EVENTS[0]) + b"data: [DONE]\n\n" + frame(EVENTS[1]), frame(EVENTS[2])])
    router.post("/responses").mock(return_value=sse_response(body))

    batches = await collect_batches()

    assert [[event["data"] for event in batch] for batch in batches] == [[EVENTS[0]]]
    assert body.closed


@pytest.mark.anyio
async def test_stream_error_status_raises_before_any_event(router: respx.MockRouter) -> None:
    body = ChunkStream(
        [b'{"error": {"message": "Rate limited", "type": "tokens", "code": "rate_limit_exceeded"}}']
    )
    router.post("/responses").mock(return_value=sse_response(body, status=429))
    stream = openai_event_batches(PAYLOAD, settings_upstream())

    with pytest.raises(OpenAIUpstreamError) as caught:
        await anext(stream)

    assert caught.value.status_code == 429
    assert caught.value.code == "rate_limit_exceeded"
    assert body.closed


@pytest.mark.anyio
async def test_stream_connection_dropped_mid_body_raises_after_the_events_so_far(
    router: respx.MockRouter,
) -> None:
    body = ChunkStream([frame(EVENTS[0]), httpx2.RemoteProtocolError("peer closed connection")])
    router.post("/responses").mock(return_value=sse_response(body))
    received: list[list[dict[str, Any]]] = []

    with pytest.raises(UpstreamStreamError):
        async for batch in openai_event_batches(PAYLOAD, settings_upstream()):
            received.append(batch)

    assert len(received) == 1
    assert body.closed


@pytest.mark.anyio
async def test_stream_read_timeout_mid_body_raises_timeout_error(router: respx.MockRouter) -> None:
    router.post("/responses").mock(
        return_value=sse_response(ChunkStream([frame(EVENTS[0]), httpx2.ReadTimeout("timed out")]))
    )

    with pytest.raises(UpstreamTimeoutError):
        await collect_batches()


@pytest.mark.anyio
async def test_stream_ending_mid_event_raises_stream_error(router: respx.MockRouter) -> None:
    router.post("/responses").mock(
        return_value=sse_response(ChunkStream([frame(EVENTS[0]), b"event: x\ndata: {"]))
    )

    with pytest.raises(UpstreamStreamError, match="mid-event"):
        await collect_batches()


@pytest.mark.anyio
async def test_stream_ending_cleanly_after_a_keepalive_is_fine(router: respx.MockRouter) -> None:
    router.post("/responses").mock(
        return_value=sse_response(ChunkStream([frame(EVENTS[0]), b": keepalive\n\n"]))
    )

    assert len(await collect_batches()) == 1


@pytest.mark.anyio
async def test_consumer_stopping_early_closes_the_upstream_response(router: respx.MockRouter) -> None:
    body = ChunkStream([frame(event) for event in EVENTS])
    router.post("/responses").mock(return_value=sse_response(body))

    await first_event()

    assert body.closed
    assert body.reads == 1


@pytest.mark.anyio
async def test_cancelling_the_consumer_closes_the_upstream_response_and_propagates(
    router: respx.MockRouter,
) -> None:
    gate = asyncio.Event()

    class Hanging(ChunkStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield frame(EVENTS[0])
            gate.set()
            await asyncio.sleep(3600)
            yield b""

    body = Hanging([])
    router.post("/responses").mock(return_value=sse_response(body))

    async def consume() -> None:
        async for _ in stream_openai_events(PAYLOAD):
            pass

    task = asyncio.create_task(consume())
    await gate.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert body.closed


# --- count_openai_input_tokens ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_count_posts_the_payload_it_is_given(router: respx.MockRouter) -> None:
    route = router.post("/responses/input_tokens").mock(
        return_value=httpx.Response(200, json={"object": "response.input_tokens", "input_tokens": 42})
    )
    payload = {
        "model": "gpt-5",
        "input": [{"role": "user", "content": "hi"}],
        "instructions": "Be brief.",
        "tools": [],
        "tool_choice": "auto",
        "reasoning": {"effort": "low"},
    }

    assert await count_openai_input_tokens(payload, settings_upstream()) == 42
    sent = json.loads(route.calls.last.request.content)
    assert sent == payload


@pytest.mark.anyio
@pytest.mark.parametrize("body", [{}, {"input_tokens": "12"}, {"input_tokens": True}, [3]])
async def test_count_without_an_integer_count_raises(router: respx.MockRouter, body: Any) -> None:
    router.post("/responses/input_tokens").mock(return_value=httpx.Response(200, json=body))

    with pytest.raises(OpenAIUpstreamError):
        await count_openai_input_tokens(PAYLOAD, settings_upstream())


@pytest.mark.anyio
@pytest.mark.parametrize("status", [404, 405])
async def test_count_on_an_upstream_without_the_endpoint_raises_its_status(
    router: respx.MockRouter, status: int
) -> None:
    router.post("/responses/input_tokens").mock(return_value=httpx.Response(status, text="Not Found"))

    with pytest.raises(OpenAIUpstreamError) as caught:
        await count_openai_input_tokens(PAYLOAD, settings_upstream())

    assert caught.value.status_code == status
