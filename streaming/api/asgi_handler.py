"""``APIHandler``: Django's ASGI handler for the API, with no thread per request.

Django's stock ``ASGIHandler`` costs every request two operating-system threads and several thread
hops: it enters asgiref's ``ThreadSensitiveContext`` (a per-request executor thread), sends
``request_started`` and runs ``response.close()`` (which sends ``request_finished``) through
``sync_to_async``, and logs every 4xx/5xx through ``sync_to_async`` too. Measured on a short stream: about
30% of the gateway's CPU and 22 KB per open stream; 500 open streams held 508 threads. The API needs none
of it: its views are async, its database work runs in one shared thread of its own
(``streaming.control.db_thread``), and nothing on the API path opens a connection in the event loop's
thread. So this handler:

- runs ``handle`` without ``ThreadSensitiveContext``;
- does not send ``request_started`` (its receivers, ``reset_queries`` and ``close_old_connections``,
  concern this thread's database connections, which the API path never opens);
- closes the response in the event loop (``response.close()`` sends ``request_finished``, whose receivers
  here are the same cheap ones, with nothing to close);
- calls Django's ``log_response`` directly (the API marks its responses as logged: the request log has
  them);
- lets an event stream's relay write it straight to the ASGI ``send`` (``Relay.write_to``), where Django
  would iterate it: one task reads the upstream and writes the client, as a pass-through proxy does;
- keeps everything else: the body read, the race between the view and the client's disconnect, Django's
  middleware chain (``GATEWAY_API_MIDDLEWARE``, async-capable only) and its URL resolution.

What this relies on in Django 5.2's ``ASGIHandler``/``BaseHandler`` (pinned by
``tests/unit/test_asgi_handler.py``): ``read_body``, ``create_request``, ``run_get_response``,
``send_response`` (which ``run_get_response``'s caller awaits) and ``listen_for_disconnect`` with their
5.2 signatures, ``_middleware_chain``, and the
``load_middleware`` contract below. A project that also serves Django's admin uses the stock handler for it
(``gateway/asgi.py``), whose middleware hops threads by design.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponseBase
from django.urls import set_script_prefix, set_urlconf
from django.utils.deprecation import MiddlewareMixin
from django.utils.log import log_response
from django.utils.module_loading import import_string

from streaming.api.relay import EventStreamResponse
from streaming.conf import gateway_settings


class APIHandler(ASGIHandler):
    """An ``ASGIHandler`` for async API views: ``GATEWAY_API_MIDDLEWARE`` only, and no thread per request."""

    def load_middleware(self, is_async: bool = False) -> None:
        """Django's loop, for its async-only case: every middleware must be native async."""
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response_async)  # type: ignore[attr-defined]
        for path in reversed(gateway_settings.API_MIDDLEWARE):
            middleware = import_string(path)
            if not getattr(middleware, "async_capable", False) or (
                isinstance(middleware, type) and issubclass(middleware, MiddlewareMixin)
            ):
                raise ImproperlyConfigured(
                    f"{path} is not async-capable (a MiddlewareMixin runs its hooks in a thread): "
                    "GATEWAY_API_MIDDLEWARE must run without a thread hop."
                )
            instance = middleware(handler)
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, self.adapt_method_mode(True, instance.process_view))
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(
                    self.adapt_method_mode(True, instance.process_template_response)
                )
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(self.adapt_method_mode(False, instance.process_exception))
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            if error_response is None:  # create_request returns one or the other
                raise RuntimeError("Django created neither a request nor an error response")
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request() -> HttpResponseBase:
            response: HttpResponseBase = await self.run_get_response(request)
            # API views read the body before they return: free it now, not when a stream of minutes ends (a 64 KiB
            # prompt would otherwise stay in memory as long as its answer streams).
            body_file.close()
            with contextlib.suppress(asyncio.CancelledError):  # the client left during send_response
                await self.send_response(response, send)
            return response

        # Race the view against the client's disconnect, as Django does (a disconnect cancels the view).
        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        processor = asyncio.create_task(process_request())
        await asyncio.wait((listener, processor), return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, processor):
            if task.done():
                # ``exception()``, not ``result()``: raising the listener's RequestAborted (every request
                # ends with one) here would add this frame to its traceback, a cycle (this frame -> the
                # task -> its exception -> the traceback -> this frame) holding the request, its body and
                # its response until the cyclic collector's next full pass.
                error = None if task.cancelled() else task.exception()
                if error is not None and not isinstance(error, RequestAborted):
                    if isinstance(error, AssertionError):
                        body_file.close()
                    raise error
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not processor.cancelled() and processor.exception() is None:
            processor.result().close()  # in the loop: request_finished's receivers have nothing to close here
        body_file.close()

    async def send_response(self, response: HttpResponseBase, send: Any) -> None:
        """An event stream is written by its relay in this task (no iterator, no hand-off per read)."""
        if not isinstance(response, EventStreamResponse):
            await super().send_response(response, send)
            return
        headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
        headers += [
            (b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values()
        ]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await response.claim().write_to(send)
        await send({"type": "http.response.body"})

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        set_urlconf(settings.ROOT_URLCONF)
        response: HttpResponseBase = await self._middleware_chain(request)  # type: ignore[misc]
        response._resource_closers.append(request.close)  # type: ignore[attr-defined]
        if response.status_code >= 400:
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,  # type: ignore[arg-type]
                request=request,
            )
        return response
