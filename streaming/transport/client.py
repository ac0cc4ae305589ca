"""One shared, pooled ``httpx2.AsyncClient`` per running event loop (imported as ``httpx``: same API).

httpx2 clients (their pooled connections) belong to the loop that opened them, so the client is keyed by
loop: uvicorn has one loop, so one client and one pool per worker; each async test gets a fresh loop and
a fresh client. Created lazily (the app works without the ASGI lifespan); closed by ``aclose_clients()``
on lifespan shutdown, and in any case when its loop shuts down (``streaming.loop_local``), so no
client of a dead loop leaks sockets.

Timeouts come with each request's upstream (``config.UpstreamConfig``); pool limits are read from
``gateway_settings`` when a loop's client is created.
"""

from __future__ import annotations

import functools

import httpx2 as httpx  # the maintained fork of httpx, same API (requirements.txt says why)

from streaming.conf import gateway_settings
from streaming.loop_local import LoopLocal

from .config import Timeouts

__all__ = ["aclose_clients", "get_client", "httpx_timeout"]


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


_clients = LoopLocal(_new_client, lambda client: client.aclose())


def _open(client: httpx.AsyncClient) -> bool:
    return not client.is_closed


def get_client() -> httpx.AsyncClient:
    """The running loop's shared client (created on first use). Call from async code only."""
    return _clients.get(usable=_open)


async def aclose_clients() -> None:
    """Close the running loop's client (ASGI lifespan shutdown); forget clients of closed loops."""
    await _clients.aclose()
