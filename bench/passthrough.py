"""A bare pass-through proxy: the yardstick for what a Python gateway costs (issue 12).

uvicorn + starlette + httpx, translating nothing. ``POST /v1/messages`` bodies go unchanged to the
upstream's ``/responses`` with the upstream key added; the answer comes back byte for byte, streamed
when it is an event stream, whole (with a Content-Length) when it is JSON. It reads the gateway's own
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``, uses the gateway's HTTP client (httpx2, httpx's maintained
fork: the same API, about 10% less CPU per request) with the gateway's default pool limits, and the
benchmark runs it like the gateway (one uvicorn worker, uvloop + httptools), so the ratio between the
two is what authentication, translation and Django add.

    OPENAI_BASE_URL=http://127.0.0.1:9000/v1 .venv/bin/python -m uvicorn bench.passthrough:app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx2 as httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """One pooled client for the process, closed at shutdown."""
    async with httpx.AsyncClient(
        base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        headers={"authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")},
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50, keepalive_expiry=5.0),
        timeout=httpx.Timeout(600.0, connect=5.0),
    ) as client:
        app.state.client = client
        yield


async def messages(request: Request) -> Response:
    client: httpx.AsyncClient = request.app.state.client
    outbound = client.build_request(
        "POST", "responses", content=await request.body(), headers={"content-type": "application/json"}
    )
    upstream = await client.send(outbound, stream=True)
    media_type = upstream.headers.get("content-type", "application/json")
    if media_type.startswith("text/event-stream"):
        return StreamingResponse(_relay(upstream), upstream.status_code, media_type=media_type)
    try:
        body = await upstream.aread()
    finally:
        await upstream.aclose()
    return Response(body, upstream.status_code, media_type=media_type)


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    """The upstream's bytes as they arrive; its connection is closed even when the client leaves."""
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    finally:
        # Starlette cancels the response task when the client disconnects; without the shield the
        # cancellation would also interrupt closing the upstream connection.
        with anyio.CancelScope(shield=True):
            await upstream.aclose()


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[Route("/v1/messages", messages, methods=["POST"]), Route("/healthz", healthz)],
    lifespan=lifespan,
)
