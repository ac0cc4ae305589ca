"""What an upstream turned out not to support, learned from its answers and shared by every worker.

Learned from the upstream's own 400s: OpenAI's ``code: "unsupported_parameter"`` (or
``"unsupported_value"``) with ``param`` ``temperature``, ``top_p``, ``reasoning``, ``reasoning.effort``
or ``reasoning.summary``; the ``reasoning.summary`` refusal of organisations not verified for summaries
(any code); and a 404/405/501 from the token-counting endpoint. Stored per upstream (by name) and
upstream model in Django's cache, so with a shared cache (Redis) every worker learns at once; a
learning bumps the configuration version, and each worker's routing snapshot picks it up.
Facts about a whole upstream (the organisation's summaries, the counting endpoint) are stored under
the model ``*``. The admin shows what was learned and can forget it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping

from streaming.control.counters import shared_cache_unreachable
from streaming.control.shared_cache import shared_cache
from streaming.control.version import bump_version
from streaming.transport import OpenAIUpstreamError

logger = logging.getLogger("streaming")

LEARNABLE = frozenset({"temperature", "top_p", "reasoning", "reasoning.effort", "reasoning.summary"})
"""Request parameters the gateway can leave out when an upstream model refuses them."""
COUNTING_ENDPOINT = "endpoint:input_tokens"
"""The upstream has no ``POST /responses/input_tokens`` (learned upstream-wide)."""
UPSTREAM_WIDE = "*"
UPSTREAM_WIDE_PARAMS = frozenset({"reasoning.summary", COUNTING_ENDPOINT})
_UNSUPPORTED_CODES = frozenset({"unsupported_parameter", "unsupported_value"})

Learned = dict[str, frozenset[str]]
"""Upstream model (or ``*``) -> what it does not support."""


def _key(upstream: str) -> str:
    return "streaming:learned:" + hashlib.sha256(upstream.encode()).hexdigest()[:32]


def learned(upstream: str) -> Learned:
    """What was learned about ``upstream`` (a cache read: the registry snapshot holds a copy)."""
    stored = shared_cache().get(_key(upstream))
    if not isinstance(stored, dict):
        return {}
    return {
        str(model): frozenset(params) for model, params in stored.items() if isinstance(params, list | set)
    }


def learned_if_reachable(upstream: str) -> Learned | None:
    """``learned(upstream)``, or None while the shared cache cannot be read (the admin says so)."""
    try:
        return learned(upstream)
    except Exception as exc:
        shared_cache_unreachable(exc)
        return None


def unsupported(learned_facts: Mapping[str, frozenset[str]], upstream_model: str) -> frozenset[str]:
    """What ``upstream_model`` is known not to support, upstream-wide facts included."""
    return learned_facts.get(upstream_model, frozenset()) | learned_facts.get(UPSTREAM_WIDE, frozenset())


def learn(upstream: str, upstream_model: str, param: str) -> None:
    """Remember that ``upstream_model`` at ``upstream`` refuses ``param``, for every worker."""
    model = UPSTREAM_WIDE if param in UPSTREAM_WIDE_PARAMS else upstream_model
    facts = {name: set(params) for name, params in learned(upstream).items()}
    if param in facts.get(model, ()):
        return
    facts.setdefault(model, set()).add(param)
    shared_cache().set(_key(upstream), {name: sorted(params) for name, params in facts.items()}, timeout=None)
    logger.warning("learned: upstream %r model %r does not support %s", upstream, model, param)
    bump_version()


def forget(upstream: str) -> None:
    """Forget everything learned about ``upstream`` (the admin's action; the next request asks again)."""
    shared_cache().delete(_key(upstream))
    bump_version()


def refused_parameter(exc: OpenAIUpstreamError) -> str | None:
    """The learnable parameter an upstream 400 refuses, if that is what it says."""
    error = exc.payload.get("error")
    if exc.status_code != 400 or not isinstance(error, Mapping):
        return None
    param, code = error.get("param"), error.get("code")
    if param not in LEARNABLE:
        return None
    if param == "reasoning.summary" or code in _UNSUPPORTED_CODES:
        return str(param)
    return None
