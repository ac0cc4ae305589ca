"""The per-key limits' counters and the configuration's version stamp (``streaming.control.counters``):
shared through Redis without blocking the event loop, on the keys Django's cache uses; through the cache's
own atomic operations otherwise."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from streaming.control import capabilities
from streaming.control.counters import CacheCounters, RedisCounters, counters
from streaming.control.shared_cache import shared_cache
from streaming.control.version import bump_version, current_version
from streaming.errors import OverloadedError
from streaming.models import ModelRoute
from tests.servers import RedisDatabase, free_port, need, redis_bin, redis_database, redis_server

pytestmark = pytest.mark.anyio

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "counters"}}


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """A database of the suite's Redis, or of one started for these tests."""
    if os.environ.get("REDIS_URL"):
        yield redis_database(os.environ["REDIS_URL"], RedisDatabase.COUNTERS)
        return
    need("Redis", redis_bin())
    with redis_server() as url:
        yield redis_database(url, RedisDatabase.COUNTERS)


@pytest.fixture
def on_redis(redis_url: str) -> Iterator[redis.Redis]:
    """Django's cache on that Redis (with a key prefix, as a host site may set), and a plain client to it."""
    plain = redis.Redis.from_url(redis_url)
    plain.flushdb()
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    caches["default"]["KEY_PREFIX"] = "site"
    with override_settings(CACHES=caches):
        yield plain
    plain.close()


async def test_with_djangos_redis_cache_they_are_sent_from_the_loop(on_redis: redis.Redis) -> None:
    assert isinstance(counters(), RedisCounters)


async def test_they_count_on_the_keys_djangos_cache_uses(on_redis: redis.Redis) -> None:
    counted = [await counters().incr("streaming:rpm:1:7", 120) for _ in range(3)]

    assert counted == [1, 2, 3]
    assert shared_cache().get("streaming:rpm:1:7") == 3
    assert 0 < on_redis.ttl(shared_cache().make_key("streaming:rpm:1:7")) <= 120


async def test_they_never_call_djangos_blocking_client_on_the_loop(
    on_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def blocking(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Django's synchronous Redis client was called on the event loop")

    for name in ("add", "incr", "decr", "touch", "set", "get"):
        monkeypatch.setattr(RedisCache, name, blocking)
    slots = counters()

    assert await slots.incr("streaming:streams:1", 3600, refresh=True) == 1
    slots.release("streaming:streams:1", 3600)
    assert await slots.incr("streaming:streams:1", 3600, refresh=True) == 1
    assert await current_version() == await current_version()


async def test_the_version_stamp_read_from_the_loop_is_the_one_djangos_cache_wrote(
    on_redis: redis.Redis,
) -> None:
    first = await current_version()

    bump_version()  # the admin's save, through Django's synchronous client
    bumped = await current_version()

    assert first != bumped
    assert shared_cache().get("streaming:config-stamp") == bumped
    assert on_redis.ttl(shared_cache().make_key("streaming:config-stamp")) == -1  # never expires


async def test_a_flushed_cache_gets_one_new_stamp_that_every_reader_sees(on_redis: redis.Redis) -> None:
    on_redis.flushdb()

    stamps = await asyncio.gather(*(current_version() for _ in range(20)))

    assert len(set(stamps)) == 1


async def test_a_refreshed_count_lives_its_whole_ttl_again(on_redis: redis.Redis) -> None:
    name = shared_cache().make_key("streaming:streams:2")
    await counters().incr("streaming:streams:2", 3600)
    on_redis.expire(name, 5)

    await counters().incr("streaming:streams:2", 3600, refresh=True)

    assert on_redis.ttl(name) > 3000


async def test_a_release_is_counted_before_the_next_count(on_redis: redis.Redis) -> None:
    slots = counters()
    await slots.incr("streaming:streams:3", 3600)

    slots.release("streaming:streams:3", 3600)  # from a synchronous callback: a task on the loop

    assert await slots.incr("streaming:streams:3", 3600) == 1


async def test_a_release_never_takes_a_count_below_zero(on_redis: redis.Redis) -> None:
    slots = counters()
    slots.release("streaming:streams:4", 3600)
    slots.release("streaming:streams:4", 3600)
    await asyncio.sleep(0.05)

    assert await slots.incr("streaming:streams:4", 3600) == 1


def test_a_release_off_the_loop_uses_djangos_client(on_redis: redis.Redis) -> None:
    shared_cache().set("streaming:streams:5", 2, timeout=3600)

    counters().release("streaming:streams:5", 3600)

    assert shared_cache().get("streaming:streams:5") == 1


async def test_with_any_other_cache_they_are_its_own_atomic_operations() -> None:
    with override_settings(CACHES=LOCMEM):
        slots = counters()
        counted = [await slots.incr("streaming:streams:6", 3600, refresh=True) for _ in range(2)]
        slots.release("streaming:streams:6", 3600)
        slots.release("streaming:streams:6", 3600)
        slots.release("streaming:streams:6", 3600)
        after = await slots.incr("streaming:streams:6", 3600)
        stamp = await current_version()
        bump_version()
        bumped = await current_version()

    assert isinstance(slots, CacheCounters)
    assert (counted, after) == ([1, 2], 1)
    assert stamp != bumped


# --- Redis down -------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("redis_down")
async def test_while_redis_is_down_a_count_is_a_529_the_sdks_retry() -> None:
    with pytest.raises(OverloadedError, match="shared cache is unreachable"):
        await counters().incr("streaming:rpm:1:1", 120)


@pytest.mark.usefixtures("redis_down")
async def test_while_redis_is_down_failed_authentications_still_get_their_401() -> None:
    from streaming.control import auth

    await auth._count_failure("203.0.113.9")  # best effort: nothing raised
    await auth._refuse_if_failing("203.0.113.9")


@pytest.mark.django_db(transaction=True)
async def test_while_redis_is_down_a_worker_still_rereads_its_configuration_at_its_max_age(
    settings: Any,
) -> None:
    from streaming.control.registry import Registry

    capabilities.learn("settings", "gpt-5", "temperature")
    worker = Registry()
    before = await worker.snapshot()
    url = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    ):
        await ModelRoute.objects.acreate(pattern="claude-*", upstream_model="gpt-5")  # saved all the same
        settings.GATEWAY_CONFIG_MAX_AGE_SECONDS = 0
        worker.look_again()
        after = await worker.snapshot()

    assert (len(before.routes), len(after.routes)) == (0, 1)  # the database still has the configuration
    assert after.learned == before.learned == {"settings": {"gpt-5": frozenset({"temperature"})}}


@pytest.mark.django_db(transaction=True)
async def test_while_redis_is_down_a_worker_serves_the_configuration_it_has() -> None:
    from streaming.control.registry import Registry

    warm, cold = Registry(), Registry()
    loaded = await warm.snapshot()
    url = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    ):
        warm.look_again()
        kept = await warm.snapshot()
        with pytest.raises(OverloadedError):
            await cold.snapshot()

    assert kept is loaded


# --- Redis silent -----------------------------------------------------------------------------------------


@pytest.fixture
def redis_silent() -> Iterator[None]:
    """Django's cache on a "Redis" that accepts connections and never answers (a partition, a paused host)."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
        ):
            yield


@pytest.mark.usefixtures("redis_silent")
async def test_a_redis_that_never_answers_costs_a_count_its_socket_timeout_then_a_529() -> None:
    started = time.monotonic()
    with pytest.raises(OverloadedError, match="shared cache is unreachable"):
        await counters().incr("streaming:rpm:1:1", 120)

    assert 1.5 < time.monotonic() - started < 5  # SOCKET_TIMEOUTS: 2 s


@pytest.mark.usefixtures("redis_silent")
async def test_while_redis_is_silent_the_loop_keeps_running() -> None:
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    with pytest.raises(OverloadedError):
        await current_version()
    ticker.cancel()

    assert ticks > 100  # 2 s of waiting for Redis, and the loop ticked all along
