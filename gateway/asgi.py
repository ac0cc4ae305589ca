"""ASGI entry point: ``uvicorn gateway.asgi:application``.

Two Django handlers share one process: the admin and its static files go through Django's stock handler
with the full ``MIDDLEWARE`` (sessions, authentication, CSRF, messages); every other path goes through
``streaming.api.asgi_handler.APIHandler``, whose middleware is django-guid's alone, so the admin costs
the API nothing. ``BodySizeLimit`` refuses oversized bodies before Django reads them. The lifespan shim
answers ``lifespan`` (Django's handler accepts only ``http``), and on shutdown closes the shared
upstream client and writes the queued usage records. The app also works without lifespan.
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


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from asgiref.sync import sync_to_async

            from streaming.control.usage import flush_quietly
            from streaming.transport import aclose_clients

            await aclose_clients()
            await sync_to_async(flush_quietly, thread_sensitive=False)()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and scope["path"].startswith(ADMIN_PREFIXES):
        await admin_application(scope, receive, send)
    else:
        await api_application(scope, receive, send)
