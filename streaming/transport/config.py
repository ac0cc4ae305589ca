"""The upstream as a value: where to send a request, with which key, headers and timeouts.

The transport reads no settings for upstream identity: routing (``streaming.control``) builds an
``UpstreamConfig`` per request, from the database or from the settings, and passes it down.
``settings_upstream()`` is the one place the settings' ``OPENAI_API_KEY``/``OPENAI_BASE_URL`` become an
upstream: the default upstream when the database defines none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from streaming.conf import gateway_settings

from .errors import UpstreamNotConfigured

__all__ = ["SETTINGS_UPSTREAM_NAME", "Timeouts", "UpstreamConfig", "settings_upstream"]

SETTINGS_UPSTREAM_NAME = "settings"
"""The name of the upstream the Django settings describe."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds per phase: a short connect, a long read (reasoning models think for minutes)."""

    connect: float
    read: float
    write: float
    pool: float

    @classmethod
    def from_settings(cls, **overrides: float | None) -> Timeouts:
        """The settings' timeouts, with the given phases (those not None) replaced."""
        values = {
            "connect": gateway_settings.CONNECT_TIMEOUT,
            "read": gateway_settings.READ_TIMEOUT,
            "write": gateway_settings.WRITE_TIMEOUT,
            "pool": gateway_settings.POOL_TIMEOUT,
        }
        values.update({phase: float(value) for phase, value in overrides.items() if value is not None})
        return cls(**values)


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """One upstream server speaking the Responses API; ``repr`` never shows the key."""

    name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts.from_settings)
    # ``bearer`` (Authorization: Bearer <key>) or ``api-key`` (Azure OpenAI's ``api-key: <key>``).
    auth_scheme: str = "bearer"
    # Why this upstream cannot be called (no key where one is needed, a key that cannot be decrypted).
    problem: str | None = None

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @property
    def secrets(self) -> tuple[str, ...]:
        """What redaction must remove from anything this upstream says."""
        return (self.api_key,) if self.api_key else ()

    def require_key(self) -> None:
        """Raise ``UpstreamNotConfigured`` when this upstream cannot be called as configured."""
        if self.problem:
            raise UpstreamNotConfigured(self.problem)


def settings_upstream() -> UpstreamConfig:
    """The upstream the Django settings describe (read now, so ``override_settings`` applies)."""
    return _settings_upstream(
        gateway_settings.OPENAI_API_KEY, gateway_settings.OPENAI_BASE_URL, Timeouts.from_settings()
    )


@lru_cache(maxsize=8)
def _settings_upstream(key: str | None, base_url: str, timeouts: Timeouts) -> UpstreamConfig:
    return UpstreamConfig(
        name=SETTINGS_UPSTREAM_NAME,
        base_url=base_url,
        api_key=key,
        timeouts=timeouts,
        problem=None
        if key
        else (
            "OPENAI_API_KEY is not set: put the upstream API key in the OPENAI_API_KEY environment "
            "variable (or the OPENAI_API_KEY Django setting), or add a default upstream in the admin."
        ),
    )
