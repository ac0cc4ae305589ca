"""Graceful shutdown: requests in flight get ``GATEWAY_SHUTDOWN_GRACE_SECONDS`` to finish, then a clean end.

When the server is told to stop (SIGTERM or SIGINT; ``gateway/asgi.py`` hooks them at lifespan startup
and calls ``begin``), uvicorn stops accepting connections at once and waits for the ones in flight. A
stream that is still running when the grace period ends gets one ``event: error`` (``overloaded_error``:
retry) after its last whole frame and is closed; a request still waiting for its answer gets 529
``overloaded_error``. Nothing is cut mid-frame, and the SDKs retry both. Host sites that run the app under
another server get this only if they call ``begin`` from their own shutdown hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable

from streaming.errors import OverloadedError

logger = logging.getLogger("streaming")

_streams: set[Callable[[], None]] = set()
_waits: weakref.WeakSet[asyncio.Timeout] = weakref.WeakSet()
_over = False


def shutdown_error() -> OverloadedError:
    return OverloadedError("The gateway is restarting; retry the request.", cause="shutdown")


def begin(grace_seconds: float) -> None:
    """Start the grace period (on the event loop); at its end every request still in flight is ended."""
    logger.warning(
        "shutting down: %d stream(s) and %d request(s) in flight get %.0f s to finish",
        len(_streams),
        len(_waits),
        grace_seconds,
    )
    asyncio.get_running_loop().call_later(grace_seconds, _end_all)


def _end_all() -> None:
    global _over
    _over = True
    now = asyncio.get_running_loop().time()
    for wait in list(_waits):
        wait.reschedule(now)
    for end in list(_streams):
        end()


def over() -> bool:
    """The grace period ended (a request that starts now is ended at once)."""
    return _over


def reset() -> None:
    """Back to serving (tests)."""
    global _over
    _over = False
    _streams.clear()


@contextlib.asynccontextmanager
async def bounded_wait() -> AsyncIterator[None]:
    """Around a request's work before its answer starts: the end of the grace period interrupts it with
    ``shutdown_error`` (529)."""
    try:
        async with asyncio.timeout(None) as wait:
            _waits.add(wait)
            if _over:
                wait.reschedule(asyncio.get_running_loop().time())
            try:
                yield
            finally:
                _waits.discard(wait)
    except TimeoutError:
        if not _over:
            raise
        raise shutdown_error() from None


def on_end(end: Callable[[], None]) -> Callable[[], None]:
    """Call ``end`` when the grace period ends (a stream's relay); returns the function that unregisters."""
    _streams.add(end)
    if _over:
        end()
    return lambda: _streams.discard(end)
