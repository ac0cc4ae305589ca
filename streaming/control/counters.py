"""Counters every worker shares, for the per-key limits (increments with an expiry, and releases) and the
configuration's version stamp (``version.py``).

With Django's Redis cache (``REDIS_URL``) they are Redis commands sent from the event loop with
``redis.asyncio``, pipelined (one round trip per request, whatever limits the key has), on the very keys
Django's cache uses (``make_key``: its prefix and version), to the server Django writes to. Django's Redis
cache is synchronous: its ``add``/``incr`` on the loop would stall every stream the worker serves for each
round trip (on a Redis across the network, half a millisecond a command, and a key with both limits made
four). With any other cache (local memory by default) they are that cache's own atomic ``add``/``incr``,
which for local memory do no I/O.

When Redis cannot be reached, or does not answer within ``SOCKET_TIMEOUTS``, a count raises
``OverloadedError`` (529, which the SDKs retry): the gateway cannot tell whether the key is within its
limits. The failure is logged at most every ``_WARN_EVERY_SECONDS``, not once per request.

A release (a stream's slot given back) comes from a synchronous callback when the request's outcome
completes; with Redis it is sent by a task on the loop that counted it, and the next count on that loop
waits for releases under way, so a worker never refuses a stream for a slot it is still giving back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

from streaming.control.shared_cache import shared_cache
from streaming.errors import OverloadedError
from streaming.loop_local import LoopLocal

logger = logging.getLogger("streaming")

__all__ = ["Counters", "counters"]

_WARN_EVERY_SECONDS = 10.0
_last_warned = float("-inf")


def shared_cache_unreachable(exc: BaseException) -> OverloadedError:
    """The client's error while the shared cache is down; the cause logged at most every few seconds."""
    global _last_warned
    now = time.monotonic()
    if now - _last_warned >= _WARN_EVERY_SECONDS:
        _last_warned = now
        logger.warning("the shared cache (Redis) is unreachable: %s: %s", type(exc).__name__, exc)
    return OverloadedError("The gateway's shared cache is unreachable. Retry shortly.")


_MAX_CONNECTIONS = 16  # per worker; a pipelined count holds one for a round trip
_CONNECTION_WAIT_SECONDS = 5.0
# A Redis that stops answering (a network partition, a paused host) costs a request this long, then a 529,
# not a wait without end; the cache's own OPTIONS win where they set these.
SOCKET_TIMEOUTS = {"socket_connect_timeout": 2.0, "socket_timeout": 2.0}

# Django's own options, not redis-py's (django.core.cache.backends.redis.RedisCacheClient).
_DJANGO_OPTIONS = frozenset({"serializer", "pool_class", "parser_class"})


class Counters(Protocol):
    async def get(self, key: str) -> int:
        """The count (0 when there is none)."""

    async def incr(self, key: str, ttl: int, *, refresh: bool = False) -> int:
        """Add one to ``key`` (created at 0 with ``ttl`` seconds to live; ``refresh``: ``ttl`` again)."""

    def release(self, key: str, ttl: int) -> None:
        """Take one from ``key``, never below zero (from any thread; it may complete later)."""

    async def stamp(self, key: str, fresh: int) -> int:
        """The number at ``key`` (kept without expiry); ``fresh`` is set there first when there is none."""


class CacheCounters:
    """Counters in any Django cache, through its atomic ``add``/``incr``/``decr``."""

    def __init__(self, cache: BaseCache) -> None:
        self._cache = cache

    async def get(self, key: str) -> int:
        return int(self._cache.get(key, 0))

    async def incr(self, key: str, ttl: int, *, refresh: bool = False) -> int:
        self._cache.add(key, 0, timeout=ttl)
        if refresh:
            self._cache.touch(key, ttl)
        return self._cache.incr(key)

    def release(self, key: str, ttl: int) -> None:
        with contextlib.suppress(ValueError):  # expired meanwhile
            if self._cache.decr(key) < 0:
                self._cache.set(key, 0, timeout=ttl)

    async def stamp(self, key: str, fresh: int) -> int:
        self._cache.add(key, fresh, timeout=None)
        return int(self._cache.get(key, fresh))


class RedisCounters:
    """Counters in the Redis server Django's cache writes to, without blocking the event loop."""

    def __init__(self, cache: RedisCache, url: str, options: dict[str, Any]) -> None:
        import redis.asyncio
        import redis.exceptions

        self._errors = (redis.exceptions.RedisError, OSError)
        self._cache = cache

        def connect() -> redis.asyncio.Redis:
            # Commands wait for a free connection rather than fail when all are busy (redis-py's default
            # pool refuses past its maximum: 500 requests at once got 400 errors).
            pool = redis.asyncio.BlockingConnectionPool.from_url(
                url, max_connections=_MAX_CONNECTIONS, timeout=_CONNECTION_WAIT_SECONDS, **options
            )
            return redis.asyncio.Redis.from_pool(pool)

        self._clients: LoopLocal[redis.asyncio.Redis] = LoopLocal(connect, lambda client: client.aclose())
        self._releases: set[asyncio.Task[None]] = set()

    async def get(self, key: str) -> int:
        try:
            return int(await self._clients.get().get(self._cache.make_key(key)) or 0)
        except self._errors as exc:
            raise shared_cache_unreachable(exc) from exc

    async def incr(self, key: str, ttl: int, *, refresh: bool = False) -> int:
        if self._releases:
            await asyncio.gather(*self._releases, return_exceptions=True)
        name = self._cache.make_key(key)
        try:
            async with self._clients.get().pipeline(transaction=False) as pipe:
                pipe.set(name, 0, ex=ttl, nx=True)
                if refresh:
                    pipe.expire(name, ttl)
                pipe.incr(name)
                replies = await pipe.execute()
        except self._errors as exc:
            raise shared_cache_unreachable(exc) from exc
        return int(replies[-1])

    async def stamp(self, key: str, fresh: int) -> int:
        # Django's Redis serializer stores an int as its digits, unpickled: Django's ``set`` and this agree.
        name = self._cache.make_key(key)
        try:
            async with self._clients.get().pipeline(transaction=False) as pipe:
                pipe.set(name, fresh, nx=True)
                pipe.get(name)
                replies = await pipe.execute()
        except self._errors as exc:
            raise shared_cache_unreachable(exc) from exc
        return int(replies[-1] or fresh)

    def release(self, key: str, ttl: int) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on a loop (a thread): Django's synchronous client will do
            CacheCounters(self._cache).release(key, ttl)
            return
        task = loop.create_task(self._release(key, ttl))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, key: str, ttl: int) -> None:
        name = self._cache.make_key(key)
        client = self._clients.get()
        try:
            if await client.decr(name) < 0:
                await client.set(name, 0, ex=ttl)
        except self._errors as exc:  # the slot expires on its own (its ttl)
            shared_cache_unreachable(exc)


def _counters_for(cache: BaseCache) -> Counters:
    config: dict[str, Any] = settings.CACHES.get(DEFAULT_CACHE_ALIAS, {})
    if isinstance(cache, RedisCache) and isinstance(config.get("LOCATION"), str):
        # Django writes to the first of several servers; so do these.
        url = config["LOCATION"].replace(";", ",").split(",")[0]
        options = SOCKET_TIMEOUTS | {
            name: value for name, value in config.get("OPTIONS", {}).items() if name not in _DJANGO_OPTIONS
        }
        return RedisCounters(cache, url, options)
    return CacheCounters(cache)


_made: tuple[BaseCache, Counters] | None = None


def counters() -> Counters:
    """The counters for Django's default cache (made again when ``CACHES`` changes, as in tests)."""
    global _made
    cache = shared_cache()
    if _made is None or _made[0] is not cache:
        _made = (cache, _counters_for(cache))
    return _made[1]
