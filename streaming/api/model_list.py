"""The client-facing model list (``GET /v1/models``), in Anthropic's ``ModelInfo`` shape (protocol.md A.9)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from streaming.errors import InvalidRequestError

# The gateway does not know when a model name was "released"; a fixed, documented timestamp keeps the
# field present and stable (clients sort by it only for display).
CREATED_AT = "2025-01-01T00:00:00Z"
_MAX_LIMIT = 1000


def display_name(model_id: str) -> str:
    """``claude-opus-4-5`` -> ``Claude Opus 4.5``; anything else is returned as is."""
    words = model_id.split("-")
    names = [w for w in words if not re.fullmatch(r"\d+", w)]
    numbers = [w for w in words if re.fullmatch(r"\d+", w)]
    if not numbers or words[: len(names)] != names:
        return model_id
    return " ".join(w.capitalize() for w in names) + " " + ".".join(numbers)


def model_info(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": display_name(model_id),
        "created_at": CREATED_AT,
    }


def model_page(model_ids: Iterable[str], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of the list, with Anthropic's ``limit`` / ``after_id`` / ``before_id`` cursor semantics."""
    ids = list(dict.fromkeys(model_ids))
    raw_limit = query.get("limit", "20")
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= _MAX_LIMIT:
        raise InvalidRequestError(f"limit: Input should be an integer between 1 and {_MAX_LIMIT}")
    limit = int(raw_limit)
    start, end = 0, len(ids)
    if after := query.get("after_id"):
        start = ids.index(after) + 1 if after in ids else len(ids)
    if before := query.get("before_id"):
        # Paging backwards: the page ends just before ``before_id``; "more" lies before the page.
        end = ids.index(before) if before in ids else 0
        lower, start = start, max(start, end - limit)
        page = ids[start:end]
        has_more = start > lower
    else:
        page = ids[start:end][:limit]
        has_more = start + len(page) < end
    return {
        "data": [model_info(model_id) for model_id in page],
        "has_more": has_more,
        "first_id": page[0] if page else None,
        "last_id": page[-1] if page else None,
    }
