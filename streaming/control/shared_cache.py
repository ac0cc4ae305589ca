"""Django's cache as the control plane uses it: one backend per thread, shared by every request it serves.

``django.core.cache.cache`` is kept per thread and per async context (an asgiref ``Local``), and under
ASGI each request runs in a context of its own: every request made a new backend, and with Redis a new
connection pool, so a new TCP connection and redis-py handshake per request (a flood of 1,000 wrong keys
opened 1,002 Redis connections, docs/load.md). One backend per thread keeps redis-py's pooled connection
for the next request; per thread, not per process, because Django promises no backend is safe to share
across threads. The backends are dropped when the ``CACHES`` setting changes (tests).
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache

_local = threading.local()


def shared_cache() -> BaseCache:
    """This thread's backend for the default cache alias."""
    backend: BaseCache | None = getattr(_local, "backend", None)
    if backend is None:
        backend = _local.backend = caches.create_connection(DEFAULT_CACHE_ALIAS)
    return backend


def forget_backends(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: a new ``CACHES`` means new backends."""
    global _local
    if setting == "CACHES":
        _local = threading.local()
