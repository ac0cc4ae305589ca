"""The one thread the API path does its rare synchronous database work in (a registry or key cache miss).

Django's ORM is synchronous. Running a miss through ``sync_to_async`` inside a request would use the
request's own thread-sensitive executor (a new thread per request under Django's ASGI handler); one
shared worker thread keeps the thread count flat. Connections are closed after each job the way
Django closes them after a request (``close_old_connections``: at once with ``CONN_MAX_AGE = 0``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import close_old_connections

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")


def _run(job: Callable[[], T]) -> T:
    try:
        return job()
    finally:
        close_old_connections()


async def run_in_db_thread(job: Callable[[], T]) -> T:
    """``job()`` in the shared database thread."""
    return await asyncio.get_running_loop().run_in_executor(_executor, _run, job)
