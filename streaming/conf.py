"""The gateway's own settings: one object, one typed property per setting.

Read at call time (not import time), so a host site configures the app in its own settings module, and
remembered once read: a request reads dozens of settings, and a setting left at its default cost Django a
raised ``AttributeError`` (1.3 µs) on every read. ``override_settings`` (and pytest-django's ``settings``
fixture) send ``setting_changed``, which makes the object forget what it remembered. ``DEFAULTS`` is the one place that lists
every setting with its default; each property documents what it does.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Upstream (read from Django settings without the GATEWAY_ prefix, as the issue fixes the names).
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": "https://api.openai.com/v1",
    # Transport.
    "GATEWAY_CONNECT_TIMEOUT": 10.0,
    "GATEWAY_READ_TIMEOUT": 600.0,
    "GATEWAY_WRITE_TIMEOUT": 60.0,
    "GATEWAY_POOL_TIMEOUT": 1.0,
    "GATEWAY_MAX_CONNECTIONS": 200,
    "GATEWAY_MAX_KEEPALIVE_CONNECTIONS": 50,
    "GATEWAY_UPSTREAM_RETRIES": 2,
    "GATEWAY_UPSTREAM_RETRY_SECONDS": 5.0,
    "GATEWAY_KEEPALIVE_EXPIRY": 5.0,
    # Client-facing API.
    "GATEWAY_API_MIDDLEWARE": ["django_guid.middleware.guid_middleware"],
    "GATEWAY_MAX_BODY_BYTES": 32 * 1024 * 1024,
    "GATEWAY_BODY_TIMEOUT_SECONDS": 30.0,
    "GATEWAY_LARGE_BODY_BYTES": 1024 * 1024,
    "GATEWAY_MAX_LARGE_BODIES": 4,
    "GATEWAY_PING_INTERVAL": 15.0,
    "GATEWAY_SHUTDOWN_GRACE_SECONDS": 30.0,
    "GATEWAY_MODEL_MAP": "*haiku*=gpt-5-mini,claude-*=gpt-5",
    "GATEWAY_MODELS": [
        "claude-opus-5-5",
        "claude-opus-4-5",
        "claude-sonnet-4-6",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
    ],
    "GATEWAY_MODEL_PROFILES": None,
    "GATEWAY_COUNT_TOKENS": "auto",
    "GATEWAY_SIGNING_KEY": None,
    # Control plane (the database's upstreams, routes and client keys, and usage records).
    "GATEWAY_ENCRYPTION_KEYS": None,
    "GATEWAY_CONFIG_REFRESH_SECONDS": 2.0,
    "GATEWAY_CONFIG_MAX_AGE_SECONDS": 60.0,
    "GATEWAY_REFUSE_UNROUTED_MODELS": False,
    "GATEWAY_AUTH_FAILURES_PER_MINUTE": 60,
    "GATEWAY_RECORD_USAGE": True,
    "GATEWAY_USAGE_FLUSH_SECONDS": 1.0,
    # Observability.
    "GATEWAY_METRICS_TOKEN": None,
    "GATEWAY_LOG_FORMAT": "plain",
}

REMOVED_SETTINGS = {
    "GATEWAY_CLIENT_KEY_CACHE_SECONDS": "verified keys are now dropped when the configuration changes "
    "(GATEWAY_CONFIG_REFRESH_SECONDS) and re-read at least every GATEWAY_CONFIG_MAX_AGE_SECONDS",
}
"""Settings that no longer exist, and what replaced them (``streaming.E007`` names any still set)."""


NUMERIC_SETTINGS: dict[str, type[int] | type[float]] = {
    name: type(default) for name, default in DEFAULTS.items() if type(default) in (int, float)
}
"""Every numeric setting and its type: each can also come from the environment (``gateway/settings.py``)
and must be positive (``streaming.checks``), except ``GATEWAY_POOL_TIMEOUT``: 0 to 2 s."""


class GatewaySettings:
    """Typed access to the gateway's settings; see ``DEFAULTS`` for every default."""

    def __init__(self) -> None:
        self._read: dict[str, Any] = {}

    def _get(self, name: str) -> Any:
        try:
            return self._read[name]
        except KeyError:
            value = self._read[name] = getattr(settings, name, DEFAULTS[name])
            return value

    def reload(self, **_: Any) -> None:
        """Forget every setting read so far (the ``setting_changed`` receiver)."""
        self._read.clear()

    @property
    def OPENAI_API_KEY(self) -> str | None:
        """The upstream API key (secret; no default)."""
        return self._get("OPENAI_API_KEY") or None

    @property
    def OPENAI_BASE_URL(self) -> str:
        """Upstream base URL, openai SDK convention: the transport POSTs to ``{base}/responses``."""
        return str(self._get("OPENAI_BASE_URL")).rstrip("/")

    @property
    def CONNECT_TIMEOUT(self) -> float:
        """Seconds to open a TCP/TLS connection upstream."""
        return float(self._get("GATEWAY_CONNECT_TIMEOUT"))

    @property
    def READ_TIMEOUT(self) -> float:
        """Seconds of upstream silence before giving up (reasoning models can think for minutes)."""
        return float(self._get("GATEWAY_READ_TIMEOUT"))

    @property
    def WRITE_TIMEOUT(self) -> float:
        """Seconds to send the request body upstream."""
        return float(self._get("GATEWAY_WRITE_TIMEOUT"))

    @property
    def POOL_TIMEOUT(self) -> float:
        """Seconds a request may queue for a free upstream connection when all are busy (0 to 2); then
        the client gets 529 ``overloaded_error``, which the SDKs retry with backoff."""
        return float(self._get("GATEWAY_POOL_TIMEOUT"))

    @property
    def MAX_CONNECTIONS(self) -> int:
        """Upper bound of concurrent upstream connections per worker."""
        return int(self._get("GATEWAY_MAX_CONNECTIONS"))

    @property
    def MAX_KEEPALIVE_CONNECTIONS(self) -> int:
        """Idle upstream connections kept open per worker."""
        return int(self._get("GATEWAY_MAX_KEEPALIVE_CONNECTIONS"))

    @property
    def KEEPALIVE_EXPIRY(self) -> float:
        """Seconds an idle upstream connection is kept for reuse before the pool closes it."""
        return float(self._get("GATEWAY_KEEPALIVE_EXPIRY"))

    @property
    def UPSTREAM_RETRIES(self) -> int:
        """Retries of a transient upstream failure before any byte reached the client (``streaming.upstream``)."""
        return int(self._get("GATEWAY_UPSTREAM_RETRIES"))

    @property
    def UPSTREAM_RETRY_SECONDS(self) -> float:
        """No retry starts later than this many seconds after the first attempt."""
        return float(self._get("GATEWAY_UPSTREAM_RETRY_SECONDS"))

    @property
    def MAX_BODY_BYTES(self) -> int:
        """Largest accepted request body; larger ones get 413 ``request_too_large`` (Anthropic allows 32 MB)."""
        return int(self._get("GATEWAY_MAX_BODY_BYTES"))

    @property
    def API_MIDDLEWARE(self) -> list[str]:
        """The middleware ``streaming.api.asgi_handler.APIHandler`` runs for API paths (native async only)."""
        return list(self._get("GATEWAY_API_MIDDLEWARE"))

    @property
    def BODY_TIMEOUT_SECONDS(self) -> float:
        """Silence allowed between parts of a request body before the request is answered 408."""
        return float(self._get("GATEWAY_BODY_TIMEOUT_SECONDS"))

    @property
    def LARGE_BODY_BYTES(self) -> int:
        """A body this big or bigger counts as large (``GATEWAY_MAX_LARGE_BODIES``)."""
        return int(self._get("GATEWAY_LARGE_BODY_BYTES"))

    @property
    def MAX_LARGE_BODIES(self) -> int:
        """Large-body requests a worker lets in at once; one more gets 529 (bounds memory under big prompts)."""
        return int(self._get("GATEWAY_MAX_LARGE_BODIES"))

    @property
    def SHUTDOWN_GRACE_SECONDS(self) -> float:
        """On SIGTERM, how long requests in flight may go on before they are ended cleanly (a stream with an
        ``overloaded_error`` event, a waiting request with 529); see ``streaming.api.draining``."""
        return float(self._get("GATEWAY_SHUTDOWN_GRACE_SECONDS"))

    @property
    def PING_INTERVAL(self) -> float:
        """Seconds of silence on a client stream before the gateway sends an Anthropic ``ping``."""
        return float(self._get("GATEWAY_PING_INTERVAL"))

    @property
    def MODEL_MAP(self) -> str | list[tuple[str, str]]:
        """Client model -> upstream model: ``"glob=model,glob=model"`` (or a list of pairs); first match wins."""
        value: str | list[tuple[str, str]] = self._get("GATEWAY_MODEL_MAP")
        return value

    @property
    def MODELS(self) -> list[str]:
        """Client-facing model names listed by ``GET /v1/models``."""
        return list(self._get("GATEWAY_MODELS"))

    @property
    def MODEL_PROFILES(self) -> dict[str, dict[str, Any]] | None:
        """Overrides of the built-in upstream model profiles: glob -> {reasoning, max_output_tokens,
        default_reasoning_effort, reasoning_efforts} (see ``streaming.control.routing``)."""
        value: dict[str, dict[str, Any]] | None = self._get("GATEWAY_MODEL_PROFILES")
        return value

    @property
    def COUNT_TOKENS(self) -> str:
        """``auto`` (upstream counting endpoint, local estimate if it has none), ``upstream`` or ``local``."""
        return str(self._get("GATEWAY_COUNT_TOKENS"))

    @property
    def ENCRYPTION_KEYS(self) -> tuple[str, ...]:
        """Fernet keys for upstream keys at rest (a list, or comma-separated): the first encrypts, all
        decrypt. Unset: one key derived from ``SECRET_KEY`` (``streaming.control.encryption``)."""
        value = self._get("GATEWAY_ENCRYPTION_KEYS")
        if isinstance(value, str):
            value = value.split(",")
        return tuple(key.strip() for key in value or () if key.strip())

    @property
    def CONFIG_REFRESH_SECONDS(self) -> float:
        """How often a worker asks the cache whether the admin changed upstreams, routes or keys; a change
        reaches every worker within this time."""
        return float(self._get("GATEWAY_CONFIG_REFRESH_SECONDS"))

    @property
    def CONFIG_MAX_AGE_SECONDS(self) -> float:
        """A worker re-reads the configuration at least this often even when the cache says nothing changed
        (a per-process cache cannot tell it)."""
        return float(self._get("GATEWAY_CONFIG_MAX_AGE_SECONDS"))

    @property
    def AUTH_FAILURES_PER_MINUTE(self) -> int:
        """Failed authentications a client address may make per clock minute before it gets 429 without any
        key lookup (a flood of wrong keys costs the gateway nothing more)."""
        return int(self._get("GATEWAY_AUTH_FAILURES_PER_MINUTE"))

    @property
    def REFUSE_UNROUTED_MODELS(self) -> bool:
        """Refuse (404) model names no route matches, instead of passing them to the default upstream, so a
        key holder cannot pick any model the upstream sells."""
        return bool(self._get("GATEWAY_REFUSE_UNROUTED_MODELS"))

    @property
    def RECORD_USAGE(self) -> bool:
        """Write a usage record per request (in the background, off the request path)."""
        return bool(self._get("GATEWAY_RECORD_USAGE"))

    @property
    def METRICS_TOKEN(self) -> str | None:
        """``GET /metrics`` answers (to ``Authorization: Bearer <token>``) only when this is set (secret)."""
        return self._get("GATEWAY_METRICS_TOKEN") or None

    @property
    def LOG_FORMAT(self) -> str:
        """``plain`` (readable lines) or ``json`` (one object per line); read by ``gateway/settings.py``."""
        return str(self._get("GATEWAY_LOG_FORMAT"))

    @property
    def USAGE_FLUSH_SECONDS(self) -> float:
        """How often queued usage records are written to the database, in one batch."""
        return float(self._get("GATEWAY_USAGE_FLUSH_SECONDS"))

    @property
    def SIGNING_KEY(self) -> str:
        """Secret for thinking signatures and client-key hashes; defaults to ``SECRET_KEY``."""
        return str(self._get("GATEWAY_SIGNING_KEY") or settings.SECRET_KEY)


gateway_settings = GatewaySettings()
setting_changed.connect(gateway_settings.reload, dispatch_uid="streaming-gateway-settings")
