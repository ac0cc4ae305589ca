"""The API's own ASGI handler: no new thread per request, and the parts of Django's handler it relies on."""

from __future__ import annotations

import gc
import inspect
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler

from gateway.asgi import api_application
from tests.unit.api_client import BASE, BODY, FIXTURES, fixture_json

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_gateway_settings"),
]


async def call(path: str, body: dict[str, Any] | None, key: str) -> bytes:
    """One request through the API's ASGI application; the whole response body."""
    raw = json.dumps(body).encode() if body is not None else b""
    scope = {
        "type": "http",
        "method": "POST" if body is not None else "GET",
        "path": path,
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(raw)).encode()),
            (b"x-api-key", key.encode()),
        ],
        "query_string": b"",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 50000),
    }
    communicator = ApplicationCommunicator(api_application, scope)
    await communicator.send_input({"type": "http.request", "body": raw})
    await communicator.receive_output(5)
    received = b""
    while True:
        message = await communicator.receive_output(5)
        received += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.send_input({"type": "http.disconnect"})  # as uvicorn says once the response is sent
    await communicator.wait(5)
    return received


def upstream_answer(request: httpx.Request) -> httpx.Response:
    """The upstream's text answer, streamed or not as asked."""
    if json.loads(request.content).get("stream"):
        sse = (FIXTURES / "text_simple.sse").read_bytes()
        return httpx.Response(200, content=sse, headers={"content-type": "text/event-stream"})
    return httpx.Response(200, json=fixture_json("text_simple.response.json"))


@pytest.fixture
def thread_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the threads started while the test runs."""
    started: list[str] = []
    original = threading.Thread.start

    def counting(self: threading.Thread) -> None:
        started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", counting)
    yield started


async def test_two_hundred_requests_start_no_thread(client_key: str, thread_starts: list[str]) -> None:
    requests = [
        ("/v1/messages", BODY, client_key),
        ("/v1/messages", {**BODY, "stream": True}, client_key),
        ("/v1/models", None, client_key),
        ("/v1/messages", BODY, "wrong-key"),
    ]
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=upstream_answer)
        for path, body, key in requests:  # warm up: the key is verified, the configuration loaded
            await call(path, body, key)
        warm = list(thread_starts)
        answers = [await call(*requests[n % len(requests)]) for n in range(200)]

    assert all(answers)
    assert thread_starts[len(warm) :] == []


async def test_a_request_is_freed_when_it_ends_not_left_to_the_cyclic_collector(client_key: str) -> None:
    """Nothing of a request (its body, its response, a stream's relay) waits for the cyclic collector's
    next full pass, which under steady traffic can be minutes away."""
    requests = [("/v1/messages", BODY), ("/v1/messages", {**BODY, "stream": True}), ("/v1/models", None)]
    with respx.mock:
        respx.post(f"{BASE}/responses").mock(side_effect=upstream_answer)
        for path, body in requests:  # warm up: the key is verified, the configuration loaded
            await call(path, body, client_key)
        gc.collect()
        debug = gc.get_debug()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for path, body in requests:
                await call(path, body, client_key)
            gc.collect()
            left = sorted(
                {
                    type(o).__name__
                    for o in gc.garbage
                    if type(o).__module__.startswith(("django", "streaming"))
                }
            )
        finally:
            gc.set_debug(debug)
            gc.garbage.clear()

    assert left == []


def test_the_django_handler_methods_it_relies_on_keep_their_shape() -> None:
    """Django 5.2's ASGIHandler/BaseHandler, as APIHandler.handle calls them (a Django upgrade must look here)."""
    shapes = {
        name: list(inspect.signature(getattr(ASGIHandler, name)).parameters)
        for name in (
            "read_body",
            "create_request",
            "run_get_response",
            "send_response",
            "listen_for_disconnect",
        )
    }

    assert shapes == {
        "read_body": ["self", "receive"],
        "create_request": ["self", "scope", "body_file"],
        "run_get_response": ["self", "request"],
        "send_response": ["self", "response", "send"],
        "listen_for_disconnect": ["self", "receive"],
    }
    assert inspect.iscoroutinefunction(BaseHandler._get_response_async)  # type: ignore[attr-defined]
    assert list(inspect.signature(BaseHandler.load_middleware).parameters) == ["self", "is_async"]
