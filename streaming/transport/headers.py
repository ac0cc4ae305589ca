"""The one place upstream request headers are built (every upstream call uses it, never a copy)."""

from __future__ import annotations

from django_guid import get_guid

from .config import UpstreamConfig

__all__ = ["CORRELATION_HEADER", "build_upstream_headers"]

CORRELATION_HEADER = "X-Correlation-ID"


def build_upstream_headers(upstream: UpstreamConfig, *, stream: bool = False) -> dict[str, str]:
    """The upstream's extra headers, Bearer auth, JSON body, the expected answer type, and this request's
    correlation ID (django-guid).

    The correlation ID lets one request be followed from the client through the gateway's logs to the
    upstream's; it is only sent when django-guid has set one for the current request (or task). An
    upstream's own extra headers cannot replace the ones the gateway sets.
    """
    headers = dict(upstream.headers)
    if upstream.api_key and upstream.auth_scheme == "api-key":
        headers["api-key"] = upstream.api_key
    elif upstream.api_key:
        headers["Authorization"] = f"Bearer {upstream.api_key}"
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "text/event-stream" if stream else "application/json"
    guid = get_guid()
    if guid:
        headers[CORRELATION_HEADER] = guid
    return headers
