"""ASGI middleware for the gateway's API: refuse oversized bodies before Django reads them.

Django's ASGI handler reads the whole request body (spilling to a temporary file) before any middleware
or view runs, so the view's own size check comes only after, say, 300 MB were received, and even
before the client key was checked. Wrap the ASGI application to answer 413 ``request_too_large`` as soon
as the declared or received size passes ``GATEWAY_MAX_BODY_BYTES``:

    application = BodySizeLimit(get_asgi_application())
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from streaming.conf import gateway_settings
from streaming.errors import RequestTooLargeError, envelope

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


async def _refuse(send: Send, limit: int) -> None:
    request_id = "req_" + uuid.uuid4().hex
    error = RequestTooLargeError(f"Request body exceeds the limit of {limit} bytes.")
    body = json.dumps(envelope(error, request_id), separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"request-id", request_id.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Answer 413 for bodies over ``GATEWAY_MAX_BODY_BYTES`` (declared or streamed) without reading them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = gateway_settings.MAX_BODY_BYTES
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _refuse(send, limit)
                return
        received = 0
        started = too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # To Django this is the client leaving: it drops the body read so far and stops.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if too_large and not started:
            await _refuse(send, limit)
