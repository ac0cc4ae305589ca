"""One async resource per running event loop (a pooled HTTP or Redis client), closed when its loop ends.

Pooled async clients hold connections bound to the loop that opened them, so each loop gets its own: the
server's one loop in production, one per test or per ``async_to_sync`` call in tests and management
commands. ``asyncio.run`` and ``asyncio.Runner`` (uvicorn, anyio's pytest runner, asgiref) call the loop's
``shutdown_asyncgens()`` while it still runs, the only hook asyncio offers at a loop's end: a parked async
generator registered per resource closes it there. The module keeps those generators, not the
``LoopLocal``: a resource whose ``LoopLocal`` is dropped before its loop ends (the cache's counters made
again for new ``CACHES``) is still closed at the loop's end, not left to the garbage collector, which
could only warn about an unclosed connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

__all__ = ["LoopLocal"]

_parked: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[AsyncGenerator[None, None]]] = (
    weakref.WeakKeyDictionary()
)


class LoopLocal(Generic[T]):
    """``get()`` gives the running loop's resource, made by ``factory`` on first use."""

    def __init__(self, factory: Callable[[], T], aclose: Callable[[T], Awaitable[object]]) -> None:
        self._factory = factory
        self._aclose = aclose
        self._resources: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]
        ] = weakref.WeakKeyDictionary()

    def get(self, *, usable: Callable[[T], bool] = lambda _: True) -> T:
        """The running loop's resource (a new one when there is none, or it is no longer ``usable``)."""
        loop = asyncio.get_running_loop()
        entry = self._resources.get(loop)
        if entry is not None and usable(entry[0]):
            return entry[0]
        parked = _parked.setdefault(loop, set())
        if entry is not None:
            parked.discard(entry[1])  # no longer usable (closed): nothing left to close at the loop's end
        resource = self._factory()
        finalizer = _close_when_loop_ends(resource, self._aclose)
        # Start it synchronously up to its yield: this registers it with the loop's async-generator hooks.
        with contextlib.suppress(StopIteration):
            finalizer.asend(None).send(None)
        parked.add(finalizer)
        self._resources[loop] = (resource, finalizer)
        return resource

    async def aclose(self) -> None:
        """Close the running loop's resource now (ASGI lifespan shutdown); forget those of closed loops."""
        current = asyncio.get_running_loop()
        for loop, (_, finalizer) in list(self._resources.items()):
            if loop is current:
                del self._resources[loop]
                _parked.get(loop, set()).discard(finalizer)
                await finalizer.aclose()  # runs its ``finally``: closes the resource
            elif loop.is_closed():
                self._resources.pop(loop, None)


async def _close_when_loop_ends(
    resource: T, aclose: Callable[[T], Awaitable[object]]
) -> AsyncGenerator[None, None]:
    """Parked at its ``yield``; the loop's ``shutdown_asyncgens()`` closes it, which closes the resource."""
    try:
        yield
    finally:
        await aclose(resource)
