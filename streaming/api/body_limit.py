"""ASGI middleware for the gateway's API: refuse oversized bodies, and too many large ones at once,
before Django reads them.

Django's ASGI handler reads the whole request body (spilling to a temporary file) before any middleware
or view runs, so the view's own size check comes only after, say, 300 MB were received, and even
before the client key was checked. Wrapped in this, the application answers 413 ``request_too_large``
as soon as the declared or received size passes ``GATEWAY_MAX_BODY_BYTES``.

A body that stops arriving is given up after ``GATEWAY_BODY_TIMEOUT_SECONDS`` without a byte (408
``timeout_error``): without it, a client that sends half a request holds a connection and a file
descriptor for as long as it likes (a front proxy's ``client_body_timeout`` does the same, earlier).

A large body costs memory while it is parsed, translated and sent upstream (a few times its size at
the peak), until the upstream answers (the payload is kept for a retry). At most
``GATEWAY_MAX_LARGE_BODIES`` requests with a body of ``GATEWAY_LARGE_BODY_BYTES`` or more are let in at
once per worker, each until its response starts (one sent without a length that turns out large: until
it ends); one more gets 529 ``overloaded_error`` at once (the SDKs retry it), so eight clients sending
30 MB each cannot take a worker's memory with them. That 529 leaves the connection open: the server
reads the rest of the body (within the size limit) and discards it, so the client, still uploading, gets
the 529 rather than a connection reset. When the last large body in flight is done, the memory it freed
goes back to the operating system (``memory.release_now``).

    application = BodySizeLimit(get_asgi_application())
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from streaming.api import memory
from streaming.conf import gateway_settings
from streaming.errors import (
    GatewayError,
    OverloadedError,
    RequestTimeoutError,
    RequestTooLargeError,
    envelope,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


async def _refuse(send: Send, error: GatewayError, *, close: bool = True) -> None:
    """Answer ``error`` without reading the body; ``close=False`` when the server may drain what is left."""
    request_id = "req_" + uuid.uuid4().hex
    body = json.dumps(envelope(error, request_id), separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"request-id", request_id.encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    headers += [(name.encode(), value.encode()) for name, value in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _too_large(limit: int) -> GatewayError:
    return RequestTooLargeError(f"Request body exceeds the limit of {limit} bytes.")


def _too_slow(seconds: float) -> GatewayError:
    return RequestTimeoutError(f"The request body did not arrive: nothing for {seconds:g} s.")


def _too_many_large() -> GatewayError:
    return OverloadedError(
        "Too many large requests are in flight on this worker; retry shortly.",
        headers={"retry-after": "1"},
        cause="large_bodies",
    )


class BodySizeLimit:
    """Answer 413 for bodies over ``GATEWAY_MAX_BODY_BYTES`` (declared or streamed) without reading them,
    and 529 past ``GATEWAY_MAX_LARGE_BODIES`` large bodies in flight."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.large_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = gateway_settings.MAX_BODY_BYTES
        large = gateway_settings.LARGE_BODY_BYTES
        declared = 0
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit():
                declared = int(value)
        if declared > limit:
            await _refuse(send, _too_large(limit))
            return
        holding = False
        if declared >= large:
            if not self._take():
                # Within the size limit: uvicorn drains and discards the rest, the client reads the 529.
                await _refuse(send, _too_many_large(), close=False)
                return
            holding = True
        received = 0
        body_complete = False
        refusal: GatewayError | None = None
        patience = gateway_settings.BODY_TIMEOUT_SECONDS

        def release() -> None:
            nonlocal holding
            if holding:
                holding = False
                self.large_in_flight -= 1
                if self.large_in_flight == 0:
                    memory.release_now()

        async def limited_receive() -> Message:
            nonlocal received, refusal, holding, body_complete
            if body_complete:  # after the body, the server only waits for the client to leave
                return await receive()
            try:
                async with asyncio.timeout(patience):
                    message = await receive()
            except TimeoutError:
                refusal = _too_slow(patience)
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                body_complete = not message.get("more_body", False)
                received += len(message.get("body", b""))
                if received > limit:
                    refusal = _too_large(limit)
                elif received >= large and not holding:
                    holding = self._take()
                    refusal = None if holding else _too_many_large()
                if refusal is not None:
                    # To Django this is the client leaving: it drops the body read so far and stops.
                    return {"type": "http.disconnect"}
            return message

        async def send_releasing(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()  # the view has let go of the body once it answers (a stream: its first event)
            await send(message)

        try:
            # ``send`` passes straight through (a wrapper would cost every streamed event a call): a refusal
            # happens while the body is read, before Django can start a response, and the disconnect it
            # reports makes Django return without sending anything. Only a request holding a large-body
            # slot has its answer watched, to give the slot back when the answer starts.
            await self.app(scope, limited_receive, send_releasing if holding else send)
            if refusal is not None:
                await _refuse(send, refusal)
        finally:
            release()

    def _take(self) -> bool:
        if self.large_in_flight >= gateway_settings.MAX_LARGE_BODIES:
            return False
        self.large_in_flight += 1
        return True
