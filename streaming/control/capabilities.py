"""What the upstream turned out not to support, remembered per process so requests stop failing on it.

Learned from the upstream's own answers: a 404/405/501 from the token-counting endpoint, or OpenAI's 400
``param: "reasoning.summary"`` for organisations that are not verified for reasoning summaries (every
request with thinking would fail otherwise). Per base URL, in memory: a restart asks again.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from streaming.transport import OpenAIUpstreamError

Feature = Literal["input_tokens", "reasoning_summary"]

_missing: dict[str, set[Feature]] = {}


def lacks(base_url: str, feature: Feature) -> bool:
    return feature in _missing.get(base_url, ())


def learn_lacks(base_url: str, feature: Feature) -> None:
    _missing.setdefault(base_url, set()).add(feature)


def forget_all() -> None:
    """Start over (tests; an operator could call it after verifying the organisation)."""
    _missing.clear()


def rejects_reasoning_summary(exc: OpenAIUpstreamError) -> bool:
    """OpenAI's answer to ``reasoning.summary`` from an organisation not verified for summaries."""
    error = exc.payload.get("error") if isinstance(exc.payload, Mapping) else None
    return exc.status_code == 400 and isinstance(error, Mapping) and error.get("param") == "reasoning.summary"


def asks_reasoning_summary(payload: Mapping[str, Any]) -> bool:
    reasoning = payload.get("reasoning")
    return isinstance(reasoning, Mapping) and "summary" in reasoning


def without_reasoning_summary(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload asking for reasoning without summaries (thinking then comes back signature-only)."""
    copied = dict(payload)
    reasoning = copy.copy(copied["reasoning"])
    reasoning.pop("summary", None)
    copied["reasoning"] = reasoning
    return copied
