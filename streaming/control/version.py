"""The configuration version stamp, in Django's cache: bumped on every change, watched by every worker.

A shared cache (Redis) makes a change made on one worker visible to all; with a per-process cache
(local memory) each worker still re-reads its configuration every ``GATEWAY_CONFIG_MAX_AGE_SECONDS``.
The stamp is a number, which Django's Redis cache stores as plain digits: the admin bumps it through
Django's cache, and the request path reads it with the counters' non-blocking client (``counters.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from streaming.control.counters import counters, shared_cache_unreachable
from streaming.control.shared_cache import shared_cache

VERSION_KEY = "streaming:config-stamp"

_listeners: list[Callable[[], None]] = []


def on_bump(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever this process bumps the version (its own registry looks again at once)."""
    _listeners.append(listener)


def _new_stamp() -> int:
    return secrets.randbits(62) + 1


async def current_version() -> int:
    """The stamp now in the cache (one is set when there is none: a cold or flushed cache); raises
    ``OverloadedError`` when the cache cannot be reached."""
    return await counters().stamp(VERSION_KEY, _new_stamp())


def bump_version() -> None:
    """Tell every worker the configuration changed (upstreams, routes, keys, learned capabilities).

    When the shared cache is down the change still stands (an operator must be able to revoke a key during
    an outage): the other workers re-read their configuration within ``GATEWAY_CONFIG_MAX_AGE_SECONDS``.
    """
    try:
        shared_cache().set(VERSION_KEY, _new_stamp(), timeout=None)
    except Exception as exc:
        shared_cache_unreachable(exc)
    for listener in _listeners:
        listener()
