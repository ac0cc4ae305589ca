"""The request body policy: one JSON object, within the size limit, that strict JSON can carry onward.

Anthropic answers 400 for what this refuses (invalid JSON, non-finite numbers, lone UTF-16 surrogates,
a non-object body) and 413 for a body over the limit.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest

from streaming.conf import gateway_settings
from streaming.errors import InvalidRequestError, RequestTooLargeError
from streaming.json_codec import loads_client

# A \uD800-\uDFFF escape: only then can the parsed body hold a lone surrogate (a pair is fine).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(body: object) -> bool:
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def read_json_body(request: HttpRequest) -> dict[str, Any]:
    """The request body as a JSON object, within the size limit; 400/413 with a clear message otherwise."""
    if request.content_type != "application/json":
        raise InvalidRequestError(
            f"Content-Type must be application/json (got {request.content_type or 'none'!r})."
        )
    limit = gateway_settings.MAX_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise RequestTooLargeError(f"Request body exceeds the limit of {limit} bytes.")
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise RequestTooLargeError(f"Request body exceeds the limit of {limit} bytes.")
    try:
        body, maybe_surrogate = loads_client(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidRequestError(f"Request body is not valid JSON: {exc}") from None
    if maybe_surrogate and _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(body):
        # Anthropic rejects these as invalid JSON; upstream they could not be encoded anyway.
        raise InvalidRequestError("Request body is not valid JSON: it contains a lone UTF-16 surrogate.")
    if not isinstance(body, dict):
        raise InvalidRequestError("Request body must be a JSON object.")
    model = body.get("model")
    if model is None:
        raise InvalidRequestError("model: Field required")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model: Input should be a non-empty string")
    return body
