"""Give freed memory back to the operating system when a worker has let go of a burst.

glibc keeps the heap pages Python frees: one 30 MB body left a worker 70 MB bigger (docs/load.md), and
200 streams with 64 KiB prompts left it 26 MiB bigger after they all ended (the pass-through: all of its
growth, too). ``malloc_trim(0)`` returns the free pages, at 0.01 to 8 ms a call. Two callers:

- ``release_now`` when the last large body in flight is done (``body_limit``);
- ``release_soon`` when the relay's last open stream ends: the trim runs ``DELAY_SECONDS`` later if the
  worker still has no stream open, and at most once per ``MIN_INTERVAL_SECONDS``, so a busy worker pays
  at most a millisecond or so a second. Measured: 42% of the streams' growth kept instead of 100%
  (docs/performance.md; what stays is mostly CPython's small-object arenas, which only an empty arena
  gives back).

Where the C library has no ``malloc_trim`` (musl, macOS) both do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import time
from collections.abc import Callable

DELAY_SECONDS = 0.1
MIN_INTERVAL_SECONDS = 1.0


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


_trim = _load_trim()


def release_now() -> None:
    """Trim the heap now."""
    if _trim is not None:
        _trim(0)


_scheduled: asyncio.TimerHandle | None = None
_last_trim = float("-inf")


def release_soon(idle: Callable[[], bool]) -> None:
    """Trim the heap shortly if ``idle()`` still holds then (one trim pending at a time, spaced out)."""
    global _scheduled
    if _trim is None or _scheduled is not None:
        return
    loop = asyncio.get_running_loop()
    delay = max(DELAY_SECONDS, _last_trim + MIN_INTERVAL_SECONDS - time.monotonic())
    _scheduled = loop.call_later(delay, _trim_if, idle)


def _trim_if(idle: Callable[[], bool]) -> None:
    global _scheduled, _last_trim
    _scheduled = None
    if idle():
        _last_trim = time.monotonic()
        release_now()
