"""The admin's "test connection": ``GET {base_url}/models`` with the upstream's own key and headers.

Why ``/models`` rather than a tiny ``POST /responses``: it is free (no tokens billed), needs no model name,
changes nothing, and OpenAI, Azure OpenAI and most compatible servers authenticate it. So it checks what
goes wrong in practice: the base URL (a 404 usually means a missing ``/v1``), reachability and TLS (no
answer), and the key (401/403). It goes through ``streaming.upstream`` (the one module that calls the
upstream) and the transport, so it sends exactly the auth scheme and extra headers real requests send. The result names the status,
the latency and the upstream's own error message after the transport's redaction: never the key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from streaming import upstream
from streaming.transport import OpenAIUpstreamError, UpstreamConfig

PROBE_PATH = "/models"
PROBE_TIMEOUT_SECONDS = 10.0
"""An admin page should not hang for the upstream's read timeout (minutes, for reasoning models)."""


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one upstream answered; ``message`` is safe to show (and to keep in the messages cookie)."""

    upstream: str
    status: int | None
    latency_ms: int
    detail: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def message(self) -> str:
        answered = f"HTTP {self.status}" if self.status is not None else "no answer"
        return (
            f"Upstream {self.upstream}: GET {PROBE_PATH} → {answered} in {self.latency_ms} ms. {self.detail}"
        )


def _listed_models(body: Any) -> list[str] | None:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return [str(item["id"]) for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]


def _success_detail(body: Any, routed_models: Collection[str]) -> str:
    listed = _listed_models(body)
    if listed is None:
        return "The upstream answered, but not with a model list."
    detail = f"{len(listed)} model{'' if len(listed) == 1 else 's'} listed."
    missing = sorted(set(routed_models) - set(listed))
    if missing and listed:
        detail += f" Routes send {', '.join(missing)} here, which it does not list."
    return detail


async def probe(config: UpstreamConfig, routed_models: Collection[str] = ()) -> ProbeResult:
    """Call ``config``'s model list once; never raises for what the upstream (or the network) does."""
    if config.problem:
        return ProbeResult(config.name, None, 0, config.problem)
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        status, body = await upstream.list_models(config, time_limit=PROBE_TIMEOUT_SECONDS)
    except OpenAIUpstreamError as exc:  # its message is redacted and safe to show
        answer = exc.message if exc.status_code else exc.message + "."
        return ProbeResult(config.name, exc.status_code, elapsed(), answer)
    return ProbeResult(config.name, status, elapsed(), _success_detail(body, routed_models))


async def probe_all(targets: Sequence[tuple[UpstreamConfig, Collection[str]]]) -> list[ProbeResult]:
    """Every upstream at once: selecting five slow upstreams costs one timeout, not five."""
    return list(await asyncio.gather(*(probe(config, models) for config, models in targets)))
