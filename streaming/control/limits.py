"""Per-key limits, counted in Django's cache (atomic increments), so they hold across workers once the
cache is shared (Redis): ``rpm_limit`` requests per minute and ``max_concurrent_streams`` open streams.

Requests per minute use fixed windows aligned to the clock minute (a burst can reach twice the limit
across a minute boundary; ``retry-after`` says when the window ends). A stream's slot is taken before
the upstream call and given back when the request's outcome completes, however it ends; slots of a
worker that died mid-stream expire an hour after the key's last stream began.
"""

from __future__ import annotations

import contextlib
import math
import time

from django.core.cache import cache

from streaming.control.registry import ClientIdentity
from streaming.errors import RateLimitError
from streaming.outcome import Outcome

_WINDOW = 60
_STREAM_SLOT_SECONDS = 3600


def admit(identity: ClientIdentity, outcome: Outcome, *, stream: bool) -> None:
    """Count this request against the key's limits; 429 ``rate_limit_error`` when one is exceeded."""
    if identity.rpm_limit is not None:
        now = time.time()
        key = f"streaming:rpm:{identity.id}:{int(now // _WINDOW)}"
        cache.add(key, 0, timeout=_WINDOW * 2)
        if cache.incr(key) > identity.rpm_limit:
            retry_after = max(1, math.ceil(_WINDOW - now % _WINDOW))
            raise RateLimitError(
                f"This API key is over its limit of {identity.rpm_limit} requests per minute.",
                headers={"retry-after": str(retry_after)},
                cause="rpm_limit",
            )
    if stream and identity.max_concurrent_streams is not None:
        key = f"streaming:streams:{identity.id}"
        cache.add(key, 0, timeout=_STREAM_SLOT_SECONDS)
        cache.touch(key, _STREAM_SLOT_SECONDS)
        if cache.incr(key) > identity.max_concurrent_streams:
            _release(key)
            raise RateLimitError(
                f"This API key already has {identity.max_concurrent_streams} streams open, its limit.",
                headers={"retry-after": "1"},
                cause="stream_limit",
            )
        outcome.on_complete(lambda: _release(key))


def _release(key: str) -> None:
    with contextlib.suppress(ValueError):  # the slot expired meanwhile
        if cache.decr(key) < 0:
            cache.set(key, 0, timeout=_STREAM_SLOT_SECONDS)
