"""``APIHandler``: Django's ASGI handler for the API, with a middleware list of its own.

A project that also serves Django's admin needs the admin's middleware (sessions, authentication, CSRF,
messages) in ``MIDDLEWARE``; every one of them is a ``MiddlewareMixin`` that hops to a thread per hook
per request under ASGI. The API authenticates by key and needs none of them, so the gateway project
serves API paths with this handler, whose chain is ``GATEWAY_API_MIDDLEWARE`` (default: django-guid's
native async middleware only), and admin paths with Django's stock handler (``gateway/asgi.py``).

What this relies on in Django 5.2's ``BaseHandler`` (pinned by ``tests/unit/test_asgi.py``):
``load_middleware(is_async)`` builds ``_middleware_chain`` from a list, and the view, template-response
and exception hooks live in three lists the request path reads. The chain below is the async-only case
of Django's loop: every middleware here must be async-capable, so nothing is adapted to a thread.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from streaming.conf import gateway_settings


class APIHandler(ASGIHandler):
    """An ``ASGIHandler`` whose middleware is ``GATEWAY_API_MIDDLEWARE``, all of it native async."""

    def load_middleware(self, is_async: bool = False) -> None:
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
