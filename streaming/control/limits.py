"""Per-key limits, counted in counters every worker shares once the cache is Redis (``counters``: atomic
increments, sent without blocking the event loop): ``rpm_limit`` requests per minute and
``max_concurrent_streams`` open streams.

Requests per minute use fixed windows aligned to the clock minute (a burst can reach twice the limit
across a minute boundary; ``retry-after`` says when the window ends). A stream's slot is taken before
the upstream call and given back when the request's outcome completes, however it ends; slots of a
worker that died mid-stream expire an hour after the key's last stream began.
"""

from __future__ import annotations

import math
import time

from streaming.control.counters import counters
from streaming.control.registry import ClientIdentity
from streaming.errors import RateLimitError
from streaming.outcome import Outcome

_WINDOW = 60
_STREAM_SLOT_SECONDS = 3600


async def admit(identity: ClientIdentity, outcome: Outcome, *, stream: bool) -> None:
    """Count this request against the key's limits; 429 ``rate_limit_error`` when one is exceeded."""
    if identity.rpm_limit is not None:
        now = time.time()
        key = f"streaming:rpm:{identity.id}:{int(now // _WINDOW)}"
        if await counters().incr(key, _WINDOW * 2) > identity.rpm_limit:
            retry_after = max(1, math.ceil(_WINDOW - now % _WINDOW))
            raise RateLimitError(
                f"This API key is over its limit of {identity.rpm_limit} requests per minute.",
                headers={"retry-after": str(retry_after)},
                cause="rpm_limit",
            )
    if stream and identity.max_concurrent_streams is not None:
        key = f"streaming:streams:{identity.id}"
        slots = counters()
        if await slots.incr(key, _STREAM_SLOT_SECONDS, refresh=True) > identity.max_concurrent_streams:
            slots.release(key, _STREAM_SLOT_SECONDS)
            raise RateLimitError(
                f"This API key already has {identity.max_concurrent_streams} streams open, its limit.",
                headers={"retry-after": "1"},
                cause="stream_limit",
            )
        outcome.on_complete(lambda: slots.release(key, _STREAM_SLOT_SECONDS))
