"""ASGI entry point: ``uvicorn gateway.asgi:application``.

Django's handler accepts only ``http`` scopes; the lifespan shim answers ``lifespan`` and closes the
shared upstream client on shutdown. ``BodySizeLimit`` refuses oversized bodies before Django reads them.
The app also works without lifespan (the client is created lazily).
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

from streaming.api.body_limit import BodySizeLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")

django_application = BodySizeLimit(get_asgi_application())


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                from streaming.transport import aclose_clients

                await aclose_clients()
                await send({"type": "lifespan.shutdown.complete"})
                return
    await django_application(scope, receive, send)
