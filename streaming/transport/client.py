"""One shared, pooled ``httpx2.AsyncClient`` per running event loop (imported as ``httpx``: same API).

httpx2 clients (their pooled connections) belong to the loop that opened them, so the client is keyed by
loop: uvicorn has one loop, so one client and one pool per worker; each async test gets a fresh loop and
a fresh client. Created lazily (the app works without the ASGI lifespan); closed by ``aclose_clients()``
on lifespan shutdown, and in any case when its loop shuts down (see ``_close_when_loop_ends``), so no
client of a dead loop leaks sockets.

Timeouts come with each request's upstream (``config.UpstreamConfig``); pool limits are read from
``gateway_settings`` when a loop's client is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncGenerator

import httpx2 as httpx  # the maintained fork of httpx, same API (requirements.txt says why)

from streaming.conf import gateway_settings

from .config import Timeouts

__all__ = ["aclose_clients", "get_client", "httpx_timeout"]

_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[httpx.AsyncClient, AsyncGenerator[None, None]]
] = weakref.WeakKeyDictionary()


@functools.lru_cache(maxsize=64)
def httpx_timeout(timeouts: Timeouts) -> httpx.Timeout:
    """httpx's value for ``timeouts`` (made once per distinct value: building one costs every request)."""
    return httpx.Timeout(
        connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
    )


def _new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx_timeout(Timeouts.from_settings()),
        limits=httpx.Limits(
            max_connections=gateway_settings.MAX_CONNECTIONS,
            max_keepalive_connections=gateway_settings.MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=gateway_settings.KEEPALIVE_EXPIRY,
        ),
        follow_redirects=False,
    )


async def _close_when_loop_ends(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Parked at its ``yield``; the loop's ``shutdown_asyncgens()`` closes it, which closes the client.

    ``asyncio.run``, ``asyncio.Runner`` (uvicorn, anyio's pytest runner) call ``shutdown_asyncgens()``
    while the loop still runs: the only hook asyncio offers at loop end.
    """
    try:
        yield
    finally:
        await client.aclose()


def get_client() -> httpx.AsyncClient:
    """The running loop's shared client (created on first use). Call from async code only."""
    loop = asyncio.get_running_loop()
    entry = _clients.get(loop)
    if entry is not None and not entry[0].is_closed:
        return entry[0]
    client = _new_client()
    finalizer = _close_when_loop_ends(client)
    # Start it synchronously up to its yield: this registers it with the loop's async-generator hooks.
    with contextlib.suppress(StopIteration):
        finalizer.asend(None).send(None)
    _clients[loop] = (client, finalizer)
    return client


async def aclose_clients() -> None:
    """Close the running loop's client (ASGI lifespan shutdown); forget clients of closed loops."""
    current = asyncio.get_running_loop()
    for loop, (client, finalizer) in list(_clients.items()):
        if loop is current:
            del _clients[loop]
            await client.aclose()
            await finalizer.aclose()
        elif loop.is_closed():
            _clients.pop(loop, None)
