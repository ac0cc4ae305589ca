"""The load tests' clients: many HTTP/1.1 requests at once from one event loop, each on a connection of its
own (as many separate clients would), each reporting what it got instead of raising, so a scenario can
count outcomes.

HTTP is spoken with h11 (sans-I/O, the protocol core httpx's own transport is built on) over asyncio
streams: one shared httpx client handing out 500 connections at once spends its time in its own pool
(500 GET /v1/models at once: 5.8 s through httpx, 0.5 s this way), which would measure the client, not
the gateway. The SDK's retries would also hide the gateway's answers. The wire format is checked with
the e2e helpers' strict SSE parser and Anthropic's event grammar.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11

from tests.e2e.helpers import anthropic_headers, assert_well_formed, parse_sse

MODEL = "claude-sonnet-4-6"
READ_SIZE = 65536
TIMEOUT = 60.0


def message_body(content: str | list[dict[str, Any]], *, stream: bool = True) -> bytes:
    messages = content if isinstance(content, list) else [{"role": "user", "content": content}]
    body = {"model": MODEL, "max_tokens": 256, "stream": stream, "messages": messages}
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class Answer:
    """What one client got."""

    status: int
    seconds: float  # until the whole answer was read (or the client hung up)
    error_type: str | None = None  # the envelope's error.type, for an HTTP error or an error event
    text: str = ""
    well_formed: bool = False
    events: list[tuple[str | None, Any]] = field(default_factory=list, repr=False)


def _error_type(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("type") if isinstance(error, dict) else None


def _read_events(raw: bytes, answer: Answer) -> None:
    answer.events = parse_sse(raw)
    answer.text = "".join(
        data["delta"]["text"]
        for name, data in answer.events
        if name == "content_block_delta" and data["delta"]["type"] == "text_delta"
    )
    errors = [data for name, data in answer.events if name == "error"]
    if errors:
        answer.error_type = _error_type(errors[0])
        return
    try:
        assert_well_formed(answer.events)
    except (AssertionError, KeyError, IndexError, TypeError):
        return
    answer.well_formed = True


async def request(
    base_url: str,
    method: str,
    path: str,
    key: str,
    body: bytes = b"",
    *,
    hang_up: Callable[[bytes], bool] | None = None,
    started: asyncio.Event | None = None,
) -> Answer:
    """One request on a new connection, read to its end, or until ``hang_up(body so far)`` says to leave.

    ``started`` is set when a 200 status line arrived. Leaving, or cancelling the call, closes the
    connection, as a client killed mid-request would.
    """
    began = time.monotonic()
    host, port = base_url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        async with asyncio.timeout(TIMEOUT):
            return await _exchange(reader, writer, method, path, key, body, hang_up, started, began)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    key: str,
    body: bytes,
    hang_up: Callable[[bytes], bool] | None,
    started: asyncio.Event | None,
    began: float,
) -> Answer:
    connection = h11.Connection(h11.CLIENT)
    headers = [("host", "127.0.0.1"), *anthropic_headers(key).items(), ("content-length", str(len(body)))]
    writer.write(connection.send(h11.Request(method=method, target=path, headers=headers)))
    writer.write(connection.send(h11.Data(data=body)) + connection.send(h11.EndOfMessage()))
    await writer.drain()
    status, content_type, received = 0, "", bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(READ_SIZE))
        elif isinstance(event, h11.Response):
            status = event.status_code
            content_type = dict(event.headers).get(b"content-type", b"").decode()
            if started is not None and status == 200:
                started.set()
        elif isinstance(event, h11.Data):
            received += event.data
            if hang_up is not None and hang_up(bytes(received)):
                return Answer(status, time.monotonic() - began, "client_gone")
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    answer = Answer(status, time.monotonic() - began)
    if content_type.startswith("text/event-stream"):
        _read_events(bytes(received), answer)
    else:
        with contextlib.suppress(ValueError):
            answer.error_type = _error_type(json.loads(received))
    return answer


async def post_message(base_url: str, key: str, body: bytes, **options: Any) -> Answer:
    """``POST /v1/messages`` (``request``'s options: ``hang_up``, ``started``)."""
    return await request(base_url, "POST", "/v1/messages", key, body, **options)


async def get_models(base_url: str, key: str) -> int:
    """``GET /v1/models``: authentication and nothing else (no upstream call); the status."""
    return (await request(base_url, "GET", "/v1/models", key)).status


def after_first_text(received: bytes) -> bool:
    """A ``hang_up`` test: the first text delta arrived."""
    return b"text_delta" in received


async def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call concurrently; results in order (exceptions returned, not raised)."""
    return await asyncio.gather(*(call() for call in calls), return_exceptions=True)
