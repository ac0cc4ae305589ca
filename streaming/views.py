"""Thin async views: auth -> parse -> translate -> transport -> respond."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse


async def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves requests (no upstream call)."""
    return JsonResponse({"status": "ok"})
