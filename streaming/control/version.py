"""The configuration version stamp, in Django's cache: bumped on every change, watched by every worker.

A shared cache (Redis) makes a change made on one worker visible to all; with a per-process cache
(local memory) each worker still re-reads its configuration every ``GATEWAY_CONFIG_MAX_AGE_SECONDS``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.core.cache import cache

VERSION_KEY = "streaming:config-version"

_listeners: list[Callable[[], None]] = []


def on_bump(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever this process bumps the version (its own registry looks again at once)."""
    _listeners.append(listener)


def current_version() -> str:
    """The stamp now in the cache (one is set when there is none: a cold or flushed cache)."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return str(version)


def bump_version() -> None:
    """Tell every worker the configuration changed (upstreams, routes, keys, learned capabilities)."""
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    for listener in _listeners:
        listener()
