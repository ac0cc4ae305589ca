"""Prometheus metrics, exposed at ``GET /metrics`` when ``GATEWAY_METRICS_TOKEN`` is set (Bearer auth).

Several workers report together in prometheus-client's multiprocess mode: set ``PROMETHEUS_MULTIPROC_DIR``
to a directory the workers share (emptied before they start, ``docs/deploy.md``); without it each process
reports its own. The names (all prefixed ``gateway_``):

==========================================  =========  ================================================
metric                                      type       labels
==========================================  =========  ================================================
``gateway_requests_total``                  counter    endpoint, model (client's), status
``gateway_request_duration_seconds``        histogram  endpoint, stream
``gateway_time_to_first_byte_seconds``      histogram  endpoint, stream
``gateway_open_streams``                    gauge      (live sum over workers)
``gateway_upstream_errors_total``           counter    kind: connect, pool_timeout, connect_timeout,
                                                       read_timeout, write_timeout, upstream_status,
                                                       upstream_dropped, upstream_body, mid_stream_error
``gateway_tokens_total``                    counter    direction (input, output, cache_read,
                                                       cache_creation), model
``gateway_client_disconnects_total``        counter    endpoint
``gateway_rate_limited_total``              counter    limit: rpm_limit, stream_limit, failed_auth
==========================================  =========  ================================================

Model labels are the client's model name; past ``MAX_MODEL_LABELS`` distinct names the rest count as
``other``, so clients cannot grow the series without bound. Recording is an outcome sink: a few dict
lookups and atomic adds per request, nothing per stream event.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from streaming.conf import gateway_settings
from streaming.outcome import Outcome

MAX_MODEL_LABELS = 100
UPSTREAM_FAILURES = frozenset(
    {
        "connect",
        "pool_timeout",
        "connect_timeout",
        "read_timeout",
        "write_timeout",
        "request_timeout",
        "upstream_status",
        "upstream_dropped",
        "upstream_body",
        "mid_stream_error",
    }
)
LIMITS = frozenset({"rpm_limit", "stream_limit", "failed_auth"})
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_models: set[str] = set()


def enabled() -> bool:
    return bool(gateway_settings.METRICS_TOKEN)


@dataclass(frozen=True)
class _Metrics:
    registry: Any
    requests: Any
    duration: Any
    ttfb: Any
    open_streams: Any
    upstream_errors: Any
    tokens: Any
    disconnects: Any
    rate_limited: Any


@functools.cache
def _metrics() -> _Metrics:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    registry = CollectorRegistry(auto_describe=True)
    return _Metrics(
        registry=registry,
        requests=Counter(
            "gateway_requests", "API requests.", ["endpoint", "model", "status"], registry=registry
        ),
        duration=Histogram(
            "gateway_request_duration_seconds",
            "From the request to the last byte of the answer.",
            ["endpoint", "stream"],
            buckets=_BUCKETS,
            registry=registry,
        ),
        ttfb=Histogram(
            "gateway_time_to_first_byte_seconds",
            "From the request to the first byte of the answer.",
            ["endpoint", "stream"],
            buckets=_BUCKETS,
            registry=registry,
        ),
        open_streams=Gauge(
            "gateway_open_streams", "Client streams open now.", multiprocess_mode="livesum", registry=registry
        ),
        upstream_errors=Counter(
            "gateway_upstream_errors", "Requests that failed upstream, by kind.", ["kind"], registry=registry
        ),
        tokens=Counter(
            "gateway_tokens", "Tokens reported by the upstream.", ["direction", "model"], registry=registry
        ),
        disconnects=Counter(
            "gateway_client_disconnects",
            "Clients that left before their answer ended.",
            ["endpoint"],
            registry=registry,
        ),
        rate_limited=Counter(
            "gateway_rate_limited", "Requests refused by a gateway limit.", ["limit"], registry=registry
        ),
    )


def _model_label(model: str | None) -> str:
    if not model:
        return ""
    if model in _models:
        return model
    if len(_models) >= MAX_MODEL_LABELS:
        return "other"
    _models.add(model)
    return model


def stream_opened() -> None:
    if enabled():
        _metrics().open_streams.inc()


def stream_closed() -> None:
    if enabled():
        _metrics().open_streams.dec()


def record_metrics(outcome: Outcome) -> None:
    """The outcome sink."""
    if not enabled():
        return
    metrics = _metrics()
    model = _model_label(outcome.client_model)
    stream = "true" if outcome.stream else "false"
    metrics.requests.labels(outcome.endpoint, model, str(outcome.status)).inc()
    if outcome.duration is not None:
        metrics.duration.labels(outcome.endpoint, stream).observe(outcome.duration)
    if outcome.ttfb is not None:
        metrics.ttfb.labels(outcome.endpoint, stream).observe(outcome.ttfb)
    for direction, count in (
        ("input", outcome.input_tokens),
        ("output", outcome.output_tokens),
        ("cache_read", outcome.cache_read_tokens),
        ("cache_creation", outcome.cache_creation_tokens),
    ):
        if count:
            metrics.tokens.labels(direction, model).inc(count)
    cause = outcome.cause
    if cause in UPSTREAM_FAILURES:
        metrics.upstream_errors.labels(cause).inc()
    elif cause == "client_gone":
        metrics.disconnects.labels(outcome.endpoint).inc()
    elif cause in LIMITS:
        metrics.rate_limited.labels(cause).inc()


def exposition() -> tuple[bytes, str]:
    """The metrics page: every worker's when ``PROMETHEUS_MULTIPROC_DIR`` is set, else this process's."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = _metrics().registry
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_exiting() -> None:
    """A worker stops: drop its live gauges from the shared directory (multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
