"""The project under ASGI, driven at the ASGI level (Django's own tests/asgi style).

No thread hop in front of the API views, a lifespan that closes the shared upstream client, and a
client disconnect that closes the upstream request at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings

from gateway.asgi import application
from streaming.api.asgi_handler import APIHandler
from streaming.control.registry import registry
from streaming.transport import get_client
from tests.fakes.upstream import FakeUpstream, slow_stream

pytestmark = pytest.mark.anyio
BODY = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "stream": True,
    "messages": [{"role": "user", "content": "Hi"}],
}


def test_no_middleware_is_adapted_to_sync_on_the_api_path(caplog: pytest.LogCaptureFixture) -> None:
    """With DEBUG on, Django logs "... handler adapted for ..." whenever it must hop threads (style.md 3.2)."""
    with override_settings(DEBUG=True), caplog.at_level(logging.DEBUG, logger="django.request"):
        APIHandler()
    assert [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()] == []


def test_the_stock_handler_would_adapt_the_admins_middleware(caplog: pytest.LogCaptureFixture) -> None:
    """The reason the API has a handler of its own: the admin's middleware hops threads."""
    with override_settings(DEBUG=True), caplog.at_level(logging.DEBUG, logger="django.request"):
        ASGIHandler()
    assert [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]


def test_api_middleware_must_be_async_capable() -> None:
    with (
        override_settings(GATEWAY_API_MIDDLEWARE=["django.middleware.common.CommonMiddleware"]),
        pytest.raises(ImproperlyConfigured, match="not async-capable"),
    ):
        APIHandler()


async def get(path: str) -> tuple[int, set[bytes]]:
    """GET ``path`` through the project's ASGI application: the status and the header names."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [(b"host", b"127.0.0.1")],
        "query_string": b"",
        "server": ("127.0.0.1", 80),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(5)
    while (await communicator.receive_output(5)).get("more_body"):
        pass
    await communicator.wait(5)
    return start["status"], {name.lower() for name, _ in start["headers"]}


async def test_api_responses_carry_nothing_of_the_admins_middleware() -> None:
    status, names = await get("/healthz")

    assert status == 200
    assert b"x-correlation-id" in names
    assert not names & {b"x-frame-options", b"set-cookie", b"vary", b"cross-origin-opener-policy"}


@pytest.mark.django_db
async def test_admin_paths_go_through_the_admins_middleware() -> None:
    status, names = await get("/admin/login/")

    assert status == 200
    assert b"x-frame-options" in names and b"set-cookie" in names  # clickjacking + CSRF cookie


async def test_lifespan_starts_and_shuts_down() -> None:
    communicator = ApplicationCommunicator(application, {"type": "lifespan"})
    await communicator.send_input({"type": "lifespan.startup"})
    assert await communicator.receive_output(1) == {"type": "lifespan.startup.complete"}
    await communicator.send_input({"type": "lifespan.shutdown"})
    assert await communicator.receive_output(1) == {"type": "lifespan.shutdown.complete"}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
async def client_key() -> str:
    from io import StringIO

    from asgiref.sync import sync_to_async
    from django.core.management import call_command

    out = StringIO()
    await sync_to_async(call_command)("createclientkey", "asgi", stdout=out)
    return out.getvalue().strip().splitlines()[-1]


def http_scope(body: bytes, client_key: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/messages",
        "raw_path": b"/v1/messages",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-api-key", client_key.encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def stream_then_disconnect(upstream: FakeUpstream, client_key: str) -> float:
    """Start a slow stream, hang up after its first event; seconds until the upstream saw its connection close."""
    since = time.monotonic()
    upstream.enqueue(slow_stream(interval=0.05))
    body = json.dumps(BODY).encode()
    communicator = ApplicationCommunicator(application, http_scope(body, client_key))
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(5)
    assert start["type"] == "http.response.start" and start["status"] == 200
    first = await communicator.receive_output(5)
    assert first["body"].startswith(b"event: message_start")
    await communicator.send_input({"type": "http.disconnect"})
    took = await asyncio.to_thread(upstream.wait_for_disconnect, 3.0, since=since)
    await communicator.wait(2)
    return took


@pytest.mark.django_db(transaction=True)
async def test_client_disconnect_mid_stream_closes_the_upstream_at_once(
    upstream: FakeUpstream, client_key: str
) -> None:
    registry.reset()
    with override_settings(OPENAI_BASE_URL=upstream.url, OPENAI_API_KEY="sk-test-asgi"):
        assert await stream_then_disconnect(upstream, client_key) < 2.0


@pytest.mark.django_db(transaction=True)
async def test_many_disconnects_leave_no_task_or_connection_behind(
    upstream: FakeUpstream, client_key: str
) -> None:
    registry.reset()
    with override_settings(OPENAI_BASE_URL=upstream.url, OPENAI_API_KEY="sk-test-asgi"):
        await stream_then_disconnect(upstream, client_key)  # warm up: client pool, key cache
        tasks_before = len(asyncio.all_tasks())
        for _ in range(20):
            await stream_then_disconnect(upstream, client_key)
        await asyncio.sleep(0.1)
        assert len(asyncio.all_tasks()) == tasks_before
        pool = get_client()._transport._pool  # type: ignore[attr-defined]  # httpcore's pool: no public view
        assert pool._requests == []  # no request still holds a connection
        assert all(connection.is_idle() or connection.is_closed() for connection in pool.connections)
        assert upstream.open_streams == 0


def raw_scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    scope = http_scope(b"", "wrong-key")
    scope["headers"] = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"), *headers]
    return scope


async def test_a_declared_oversized_body_is_refused_before_it_is_read() -> None:
    with override_settings(GATEWAY_MAX_BODY_BYTES=1000):
        communicator = ApplicationCommunicator(application, raw_scope([(b"content-length", b"300000000")]))
        start = await communicator.receive_output(2)
        body = await communicator.receive_output(2)
    assert start["status"] == 413
    assert json.loads(body["body"])["error"]["type"] == "request_too_large"
    await communicator.wait(1)


async def test_a_streamed_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    with override_settings(GATEWAY_MAX_BODY_BYTES=1000):
        communicator = ApplicationCommunicator(application, raw_scope([]))  # chunked: no content-length
        for _ in range(3):
            await communicator.send_input({"type": "http.request", "body": b"x" * 600, "more_body": True})
        start = await communicator.receive_output(2)
        await communicator.receive_output(2)
    assert start["status"] == 413
    await communicator.wait(1)


async def test_past_the_large_body_bound_a_request_gets_529_at_once_and_the_slot_comes_back() -> None:
    with override_settings(GATEWAY_LARGE_BODY_BYTES=100, GATEWAY_MAX_LARGE_BODIES=1):
        holding = ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")]))
        await holding.send_input({"type": "http.request", "body": b"x" * 100, "more_body": True})
        await asyncio.sleep(0.05)  # its body is still arriving: it holds the only slot

        refused = ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")]))
        start = await refused.receive_output(2)
        body = await refused.receive_output(2)
        await refused.wait(1)
        small = ApplicationCommunicator(application, raw_scope([(b"content-length", b"50")]))
        await small.send_input({"type": "http.request", "body": b"x" * 50})
        small_start = await small.receive_output(5)

        await holding.send_input({"type": "http.disconnect"})
        await holding.wait(2)
        again = ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")]))
        await again.send_input({"type": "http.request", "body": b"{" * 500})
        again_start = await again.receive_output(5)

    assert (start["status"], dict(start["headers"])[b"retry-after"]) == (529, b"1")
    assert json.loads(body["body"])["error"]["type"] == "overloaded_error"
    assert small_start["status"] != 529  # small bodies are never held back
    assert again_start["status"] != 529
    for communicator in (small, again):
        while (await communicator.receive_output(5)).get("more_body"):
            pass
        await communicator.wait(2)


async def test_the_529_for_one_large_body_too_many_leaves_the_connection_to_be_drained() -> None:
    """The client is still uploading: closing now would reset its connection before it read the 529
    (seen under load: eight 30 MB bodies at once gave four ReadErrors). uvicorn discards the rest."""
    with override_settings(GATEWAY_LARGE_BODY_BYTES=100, GATEWAY_MAX_LARGE_BODIES=1):
        holding = ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")]))
        await holding.send_input({"type": "http.request", "body": b"x" * 100, "more_body": True})
        await asyncio.sleep(0.05)
        refused = ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")]))
        start = await refused.receive_output(2)
        await refused.receive_output(2)
        await refused.wait(1)
        await holding.send_input({"type": "http.disconnect"})
        await holding.wait(2)

    assert start["status"] == 529
    assert b"connection" not in dict(start["headers"])


async def test_an_oversized_body_is_refused_with_the_connection_closed() -> None:
    """Past the size limit the gateway will not read on: the connection goes."""
    with override_settings(GATEWAY_MAX_BODY_BYTES=1000):
        communicator = ApplicationCommunicator(application, raw_scope([(b"content-length", b"5000")]))
        start = await communicator.receive_output(2)
        await communicator.receive_output(2)
        await communicator.wait(1)

    assert dict(start["headers"])[b"connection"] == b"close"


@pytest.mark.django_db(transaction=True)
async def test_a_large_body_stream_gives_its_slot_back_when_its_answer_starts(
    upstream: FakeUpstream, client_key: str
) -> None:
    """The body is dropped once the upstream answered: a long stream must not hold the slot to its end."""
    registry.reset()
    upstream.set_default(slow_stream(interval=0.05))
    body = json.dumps(BODY).encode()
    settings = {"GATEWAY_LARGE_BODY_BYTES": 100, "GATEWAY_MAX_LARGE_BODIES": 1}
    with override_settings(OPENAI_BASE_URL=upstream.url, OPENAI_API_KEY="sk-test-asgi", **settings):
        streams = []
        for _ in range(2):
            communicator = ApplicationCommunicator(application, http_scope(body, client_key))
            await communicator.send_input({"type": "http.request", "body": body})
            streams.append((communicator, await communicator.receive_output(5)))
        for communicator, _ in streams:
            await communicator.send_input({"type": "http.disconnect"})
            await communicator.wait(2)

    assert [start["status"] for _, start in streams] == [200, 200]


async def finish_request(communicator: ApplicationCommunicator, rest: bytes) -> None:
    await communicator.send_input({"type": "http.request", "body": rest})
    while (await communicator.receive_output(5))["type"] != "http.response.body":
        pass
    await communicator.wait(2)


async def test_memory_goes_back_to_the_system_once_the_last_large_body_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """glibc keeps freed heap pages; one ``malloc_trim`` per burst of large bodies returns them."""
    from streaming.api import memory

    trims: list[None] = []
    monkeypatch.setattr(memory, "release_now", lambda: trims.append(None))
    with override_settings(GATEWAY_LARGE_BODY_BYTES=100, GATEWAY_MAX_LARGE_BODIES=2):
        first, second = (
            ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")])) for _ in range(2)
        )
        for communicator in (first, second):
            await communicator.send_input({"type": "http.request", "body": b"{" * 100, "more_body": True})
        await asyncio.sleep(0.05)
        await finish_request(first, b"{" * 400)
        trims_while_one_is_left = len(trims)
        await finish_request(second, b"{" * 400)

    assert (trims_while_one_is_left, len(trims)) == (0, 1)


async def test_a_body_that_stops_arriving_is_answered_408_after_the_timeout() -> None:
    with override_settings(GATEWAY_BODY_TIMEOUT_SECONDS=0.2):
        communicator = ApplicationCommunicator(application, raw_scope([(b"content-length", b"500")]))
        await communicator.send_input({"type": "http.request", "body": b"{", "more_body": True})
        started = time.monotonic()
        start = await communicator.receive_output(5)
        body = await communicator.receive_output(5)
        waited = time.monotonic() - started
        await communicator.wait(2)

    assert start["status"] == 408
    assert json.loads(body["body"])["error"]["type"] == "timeout_error"
    assert 0.2 <= waited < 2
