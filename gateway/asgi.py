"""ASGI entry point: ``uvicorn gateway.asgi:application``.

Two Django handlers share one process: the admin and its static files go through Django's stock handler
with the full ``MIDDLEWARE`` (sessions, authentication, CSRF, messages); every other path goes through
``streaming.api.asgi_handler.APIHandler``, whose middleware is django-guid's alone, so the admin costs
the API nothing. ``BodySizeLimit`` refuses oversized bodies before Django reads them. The lifespan shim
answers ``lifespan`` (Django's handler accepts only ``http``): at startup it hooks SIGTERM/SIGINT so
requests in flight get a bounded grace period (``streaming.api.draining``), and on shutdown it closes the
shared upstream client and writes the queued usage records. The app also works without lifespan.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

from django.conf import settings
from django.core.asgi import get_asgi_application

admin_application = get_asgi_application()

from streaming.api.asgi_handler import APIHandler  # noqa: E402  (after django.setup())
from streaming.api.body_limit import BodySizeLimit  # noqa: E402

api_application = BodySizeLimit(APIHandler())
ADMIN_PREFIXES = ("/admin/", "/admin", settings.STATIC_URL)


def _drain_on_stop_signals() -> None:
    """SIGTERM/SIGINT also start the grace period for requests in flight (``streaming.api.draining``), then
    do what the server's own handler does (uvicorn: stop accepting connections, wait for the open ones)."""
    import asyncio
    import signal
    import threading

    from streaming.api import draining
    from streaming.conf import gateway_settings

    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(stop_signal)

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(draining.begin, gateway_settings.SHUTDOWN_GRACE_SECONDS)
            if callable(previous):
                previous(signum, frame)

        signal.signal(stop_signal, handler)


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _drain_on_stop_signals()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from asgiref.sync import sync_to_async

            from streaming.control.usage import flush_quietly
            from streaming.observability.metrics import process_exiting
            from streaming.transport import aclose_clients

            await aclose_clients()
            await sync_to_async(flush_quietly, thread_sensitive=False)()
            process_exiting()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and scope["path"].startswith(ADMIN_PREFIXES):
        await admin_application(scope, receive, send)
    else:
        await api_application(scope, receive, send)
