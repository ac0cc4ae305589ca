"""The one place upstream request headers are built (both upstream calls use it, never a copy)."""

from __future__ import annotations

from django_guid import get_guid

__all__ = ["CORRELATION_HEADER", "build_upstream_headers"]

CORRELATION_HEADER = "X-Correlation-ID"


def build_upstream_headers(api_key: str, *, stream: bool = False) -> dict[str, str]:
    """Bearer auth, JSON body, the expected answer type, and this request's correlation ID (django-guid).

    The correlation ID lets one request be followed from the client through the gateway's logs to the
    upstream's; it is only sent when django-guid has set one for the current request (or task).
    """
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Content-Type": "application/json",
        "Accept": "text/event-stream" if stream else "application/json",
    }
    guid = get_guid()
    if guid:
        headers[CORRELATION_HEADER] = guid
    return headers
