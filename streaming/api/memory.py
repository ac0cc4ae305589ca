"""Give freed memory back to the operating system once a worker has let go of its large bodies.

glibc keeps the heap pages Python frees: one 30 MB body left a worker 70 MB bigger (docs/load.md).
``malloc_trim(0)`` returns them, at 0.01 to 8 ms a call; ``body_limit`` calls ``release_now`` when the
last large body in flight is done. (After a burst of ordinary streams it returns next to nothing: what
stays is CPython's own small-object arenas, which the pass-through keeps just the same; measured in
docs/performance.md.) Where the C library has no ``malloc_trim`` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable


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
