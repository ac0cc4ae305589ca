"""The control plane as the API path sees it: an in-process snapshot, refreshed when the admin changes it.

The hot path does not query the database per request. ``Registry.snapshot()`` returns the enabled
upstreams (keys decrypted, as ``UpstreamConfig`` values), the enabled routes in order, and what each
upstream taught (``capabilities``); client keys are verified once each and remembered. Every
``GATEWAY_CONFIG_REFRESH_SECONDS`` a request compares the version stamp in Django's cache
(``version.py``, bumped on every save and delete) with the snapshot's; a new stamp reloads the snapshot
and forgets every verified key, so a change in the admin (a new route, a deactivated key) reaches every
worker within that time. Expiry is checked on every request. Whatever the cache says, the snapshot and
each verified key are re-read at least every ``GATEWAY_CONFIG_MAX_AGE_SECONDS``.

Misses are single-flight: however many requests need the same load at once, one database query runs
(in ``db_thread``) and the rest wait for it. Unknown key hashes are remembered briefly (a negative
cache), so a flood of wrong keys does not become a flood of queries.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal, TypeVar

from streaming.conf import gateway_settings
from streaming.control import capabilities
from streaming.control.counters import shared_cache_unreachable
from streaming.control.db_thread import run_in_db_thread
from streaming.control.version import current_version, on_bump
from streaming.errors import OverloadedError
from streaming.transport import SETTINGS_UPSTREAM_NAME, Timeouts, UpstreamConfig

logger = logging.getLogger("streaming")
T = TypeVar("T")

_UNKNOWN_KEYS_MAX = 10_000


class _NotCached(enum.Enum):
    NOT_CACHED = enum.auto()


_UNKNOWN = _NotCached.NOT_CACHED
"""What the key cache answers when it knows nothing about a key (None: it knows the key does not exist)."""


@dataclass(frozen=True, slots=True)
class RouteRule:
    """An enabled database route (``streaming.models.ModelRoute``) as plain data."""

    id: int
    pattern: str
    upstream_id: int | None
    upstream_model: str
    reasoning: str  # auto, on, off
    max_output_tokens: int | None = None
    default_effort: str | None = None

    def matches(self, client_model: str) -> bool:
        return fnmatchcase(client_model, self.pattern)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The database's configuration at one version; plain data, shared by every request of a worker."""

    version: int
    upstreams: Mapping[int, UpstreamConfig] = field(default_factory=dict)
    default_upstream: UpstreamConfig | None = None
    routes: tuple[RouteRule, ...] = ()
    learned: Mapping[str, capabilities.Learned] = field(default_factory=dict)
    loaded: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """A verified client key: who it is and what it may do."""

    id: int
    name: str
    allowed_models: tuple[str, ...] = ()
    rpm_limit: int | None = None
    max_concurrent_streams: int | None = None
    expires_at: float | None = None  # epoch seconds

    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at

    def allows(self, model: str) -> bool:
        return not self.allowed_models or any(fnmatchcase(model, glob) for glob in self.allowed_models)


def upstream_config(row: Any) -> UpstreamConfig:
    """The transport's value for a ``streaming.models.Upstream`` row."""
    from streaming.models import UnreadableSecret

    problem = None
    if isinstance(row.api_key, UnreadableSecret):
        problem = (
            f"The stored API key of upstream {row.name!r} cannot be decrypted with the configured "
            "encryption keys; enter it again in the admin or restore the old key."
        )
        logger.error("%s", problem)
    return UpstreamConfig(
        name=row.name,
        base_url=row.base_url.rstrip("/"),
        api_key=row.api_key or None,
        headers=dict(row.extra_headers or {}),
        timeouts=Timeouts.from_settings(connect=row.connect_timeout, read=row.read_timeout),
        auth_scheme=row.auth_scheme,
        problem=problem,
    )


def _load_snapshot(version: int, learned_before: Mapping[str, capabilities.Learned]) -> Snapshot:
    from streaming.models import ModelRoute, Upstream

    upstreams: dict[int, UpstreamConfig] = {}
    default = None
    for row in Upstream.objects.filter(enabled=True):
        upstreams[row.id] = upstream_config(row)
        if row.is_default:
            default = upstreams[row.id]
    routes = tuple(
        RouteRule(
            id=route.id,
            pattern=route.pattern,
            upstream_id=route.upstream_id,
            upstream_model=route.upstream_model,
            reasoning=route.reasoning,
            max_output_tokens=route.max_output_tokens,
            default_effort=route.default_effort or None,
        )
        for route in ModelRoute.objects.filter(enabled=True).order_by("priority", "id")
        # A route to a disabled upstream is skipped: traffic falls through to the next match.
        if route.upstream_id is None or route.upstream_id in upstreams
    )
    names = {config.name for config in upstreams.values()} | {SETTINGS_UPSTREAM_NAME}
    try:
        learned = {name: facts for name in names if (facts := capabilities.learned(name))}
    except Exception as exc:  # the shared cache is down: keep what this worker knew
        shared_cache_unreachable(exc)
        learned = dict(learned_before)
    return Snapshot(version, upstreams, default, routes, learned)


def _load_identity(key_hash: str) -> ClientIdentity | None:
    from streaming.models import ClientKey

    row = ClientKey.objects.filter(key_hash=key_hash, is_active=True).first()
    if row is None:
        return None
    expires: datetime | None = row.expires_at
    return ClientIdentity(
        id=row.id,
        name=row.name,
        allowed_models=row.model_globs(),
        rpm_limit=row.rpm_limit,
        max_concurrent_streams=row.max_concurrent_streams,
        expires_at=expires.timestamp() if expires is not None else None,
    )


class Registry:
    """One per process (``registry``); every method is safe to call from any request task."""

    def __init__(self) -> None:
        self._snapshot: Snapshot | None = None
        self._checked = float("-inf")
        self._identities: dict[str, tuple[ClientIdentity, float]] = {}
        self._unknown: dict[str, float] = {}
        self._loads: dict[Hashable, tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = {}

    def reset(self) -> None:
        """Forget everything (tests; a changed database under the process's feet)."""
        self._snapshot = None
        self._checked = float("-inf")
        self._identities.clear()
        self._unknown.clear()

    def look_again(self) -> None:
        """Compare the version stamp on the next request (this process just changed the configuration)."""
        self._checked = float("-inf")

    async def snapshot(self) -> Snapshot:
        """The current snapshot; at most one cache read per refresh interval, a reload on a new version."""
        now = time.monotonic()
        current = self._snapshot
        if current is not None and now - self._checked < gateway_settings.CONFIG_REFRESH_SECONDS:
            return current
        self._checked = now
        try:
            version = await current_version()
        except Exception as exc:  # the shared cache is down: serve the configuration this worker has
            error = exc if isinstance(exc, OverloadedError) else shared_cache_unreachable(exc)
            if current is None:
                raise error from exc
            if now - current.loaded < gateway_settings.CONFIG_MAX_AGE_SECONDS:
                return current
            version = current.version  # the stamp is unknown; the database still has the configuration
        if (
            current is not None
            and current.version == version
            and now - current.loaded < gateway_settings.CONFIG_MAX_AGE_SECONDS
        ):
            return current
        learned_before = current.learned if current is not None else {}
        loaded: Snapshot = await self._single_flight(
            ("snapshot", version), lambda: _load_snapshot(version, learned_before), self._install
        )
        return loaded

    def _install(self, loaded: Snapshot) -> None:
        if self._snapshot is None or self._snapshot.version != loaded.version:
            self._identities.clear()
            self._unknown.clear()
        self._snapshot = loaded

    async def identity(
        self, key_hash: str, *, before_lookup: Callable[[], Awaitable[None]] | None = None
    ) -> ClientIdentity | None:
        """The active client key with this hash, or None; one database query per key at a time.

        ``before_lookup`` runs only when the database must be asked (it may raise to refuse that).
        """
        await self.snapshot()  # a new configuration version forgets every verified key
        now = time.monotonic()
        max_age = gateway_settings.CONFIG_MAX_AGE_SECONDS
        known = self._known(key_hash, now, max_age)
        if known is not _UNKNOWN:
            return known
        if before_lookup is not None and not self._loading(("key", key_hash)):
            # Only a request that would start a lookup pays for the check; it may wait (a Redis round
            # trip), and meanwhile another request may have looked the key up: ask the cache again.
            await before_lookup()
            now = time.monotonic()
            known = self._known(key_hash, now, max_age)
            if known is not _UNKNOWN:
                return known

        def remember(identity: ClientIdentity | None) -> None:
            if identity is None:
                if len(self._unknown) >= _UNKNOWN_KEYS_MAX:
                    self._unknown.clear()
                self._unknown[key_hash] = now + max_age
                self._identities.pop(key_hash, None)
            else:
                self._identities[key_hash] = (identity, now)

        identity: ClientIdentity | None = await self._single_flight(
            ("key", key_hash), lambda: _load_identity(key_hash), remember
        )
        return identity

    def _known(
        self, key_hash: str, now: float, max_age: float
    ) -> ClientIdentity | Literal[_NotCached.NOT_CACHED] | None:
        """The cached answer for ``key_hash`` (an identity, or None for a key known not to exist), or
        ``_UNKNOWN``."""
        cached = self._identities.get(key_hash)
        if cached is not None and now - cached[1] < max_age:
            return cached[0]
        if self._unknown.get(key_hash, 0.0) > now:
            return None
        return _UNKNOWN

    def _loading(self, what: Hashable) -> bool:
        pending = self._loads.get(what)
        return pending is not None and pending[0] is asyncio.get_running_loop() and not pending[1].done()

    async def _single_flight(self, what: Hashable, load: Callable[[], T], remember: Callable[[T], None]) -> T:
        """``load()`` in the database thread, once for everyone asking for ``what`` meanwhile.

        The load remembers its result itself, before it ends: a request running between its end and its
        waiters' wake-up must find the result, not a finished load and nothing remembered (under load, 500
        requests with a new key made two lookups).
        """
        loop = asyncio.get_running_loop()
        pending = self._loads.get(what)
        if pending is None or pending[0] is not loop or pending[1].done():
            task = loop.create_task(self._load_and_remember(load, remember))
            self._loads[what] = (loop, task)
            task.add_done_callback(lambda _: self._forget_load(what, task))
        else:
            task = pending[1]
        # Shielded: a waiter that gives up (its client left) must not cancel the load for the others.
        result: T = await asyncio.shield(task)
        return result

    @staticmethod
    async def _load_and_remember(load: Callable[[], T], remember: Callable[[T], None]) -> T:
        result = await run_in_db_thread(load)
        remember(result)
        return result

    def _forget_load(self, what: Hashable, task: asyncio.Task[Any]) -> None:
        if self._loads.get(what, (None, None))[1] is task:
            del self._loads[what]


registry = Registry()
on_bump(registry.look_again)
