"""The one thread the API path does its rare synchronous database work in (a registry or key cache miss).

Django's ORM is synchronous. Running a miss through ``sync_to_async`` inside a request would use the
request's own thread-sensitive executor (a new thread per request under Django's ASGI handler); one
shared worker thread keeps the thread count flat. The thread keeps its database connection between jobs
(a miss costs a query, not a connection) and drops it when it stops working (``drop_broken_connections``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from django.db import connections

T = TypeVar("T")

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-db")


def drop_broken_connections() -> None:
    """Close this thread's connections that failed or no longer answer; keep the healthy ones open.

    For long-lived threads of our own (this one, the usage writer). Django's request cycle closes
    connections per ``CONN_MAX_AGE``; these threads serve no request, so they decide here.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or not connection.errors_occurred:
            continue
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


def _run(job: Callable[[], T]) -> T:
    try:
        return job()
    finally:
        drop_broken_connections()


async def run_in_db_thread(job: Callable[[], T]) -> T:
    """``job()`` in the shared database thread."""
    return await asyncio.get_running_loop().run_in_executor(_executor, _run, job)
