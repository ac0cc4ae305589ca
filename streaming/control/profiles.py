"""Upstream model profiles: what each upstream model accepts (pure).

Built-in profiles, first matching glob wins (unknown models: reasoning unknown, no cap):

==================  =========  ==========  ===================================================================
upstream glob       reasoning  max output  source / status
==================  =========  ==========  ===================================================================
``gpt-5-chat*``     no         16,384      gpt-5-chat-latest is the non-reasoning ChatGPT model (puter.com
                                           model card); cap unverified
``gpt-5*-pro*``     yes        272,000     gpt-5-pro model card (koog docs mirror of OpenAI's page)
``gpt-5.[0-9]*``    yes        128,000     gpt-5.2 / gpt-5.4 cards (Vercel AI Gateway, Box); newer gpt-5.x
                                           assumed alike (unverified)
``gpt-5*``          yes        128,000     gpt-5 cards (Vercel AI Gateway, Box)
``codex-mini*``     yes        100,000     unverified
``o1-mini*``        yes        65,536      unverified
``o1-preview*``     yes        32,768      unverified
``o1*``             yes        100,000     unverified
``o3*``             yes        100,000     o3 card (Roo-Code's model table citing OpenAI's docs)
``o4-mini*``        yes        100,000     o4-mini cards (Vercel AI Gateway, Helicone)
``gpt-4.1*``        no         32,768      gpt-4.1 card (Vercel AI Gateway), litellm's table (mini too)
``gpt-4o*``         no         16,384      gpt-4o cards (UiPath limits table); gpt-4o-mini assumed alike
``chatgpt-4o*``     no         16,384      unverified
==================  =========  ==========  ===================================================================

Accepted reasoning efforts (others move to the nearest accepted level, see ``translate.request``):
``gpt-5*`` (the first gpt-5 family) minimal/low/medium/high; ``gpt-5*-pro*`` high; the o-series and
codex-mini low/medium/high; newer ``gpt-5.x`` unknown (passed through, their sets differ by release). All
unverified against a live API: override with ``reasoning_efforts`` in ``GATEWAY_MODEL_PROFILES``.

"Reasoning" decides two things in ``translate.request``: ``reasoning``/``include`` are sent (non-reasoning
models reject them) and ``temperature``/``top_p`` are dropped (reasoning models reject non-default values).
``GATEWAY_MODEL_PROFILES`` (``{glob: {"reasoning": bool, "max_output_tokens": int | None,
"default_reasoning_effort": str | None, "reasoning_efforts": [str, ...] | None}}``) is tried first, in order; a matching entry overrides only the
keys it names, on top of the built-in profile of that model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from streaming.translate.request import EFFORT_SCALE

REASONING_EFFORTS = EFFORT_SCALE
PROFILE_KEYS = frozenset({"reasoning", "max_output_tokens", "default_reasoning_effort", "reasoning_efforts"})
_O_SERIES = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What an upstream model accepts: reasoning parameters, and how many output tokens at most.

    ``reasoning`` None means unknown (a model no profile names): the client's explicit thinking is
    forwarded and what the upstream refuses is learned (``streaming.control.capabilities``)."""

    reasoning: bool | None = None
    max_output_tokens: int | None = None
    default_reasoning_effort: str | None = None
    reasoning_efforts: tuple[str, ...] | None = None


BUILTIN_PROFILES: tuple[tuple[str, ModelProfile], ...] = (
    ("gpt-5-chat*", ModelProfile(reasoning=False, max_output_tokens=16_384)),
    ("gpt-5*-pro*", ModelProfile(reasoning=True, max_output_tokens=272_000, reasoning_efforts=("high",))),
    ("gpt-5.[0-9]*", ModelProfile(reasoning=True, max_output_tokens=128_000)),
    (
        "gpt-5*",
        ModelProfile(reasoning=True, max_output_tokens=128_000, reasoning_efforts=("minimal", *_O_SERIES)),
    ),
    ("codex-mini*", ModelProfile(reasoning=True, max_output_tokens=100_000, reasoning_efforts=_O_SERIES)),
    ("o1-mini*", ModelProfile(reasoning=True, max_output_tokens=65_536, reasoning_efforts=_O_SERIES)),
    ("o1-preview*", ModelProfile(reasoning=True, max_output_tokens=32_768, reasoning_efforts=_O_SERIES)),
    ("o1*", ModelProfile(reasoning=True, max_output_tokens=100_000, reasoning_efforts=_O_SERIES)),
    ("o3*", ModelProfile(reasoning=True, max_output_tokens=100_000, reasoning_efforts=_O_SERIES)),
    ("o4-mini*", ModelProfile(reasoning=True, max_output_tokens=100_000, reasoning_efforts=_O_SERIES)),
    ("gpt-4.1*", ModelProfile(reasoning=False, max_output_tokens=32_768)),
    ("gpt-4o*", ModelProfile(reasoning=False, max_output_tokens=16_384)),
    ("chatgpt-4o*", ModelProfile(reasoning=False, max_output_tokens=16_384)),
)


def parse_model_profiles(value: object) -> list[tuple[str, dict[str, Any]]]:
    """``GATEWAY_MODEL_PROFILES`` checked key by key; ValueError naming the first problem."""
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise ValueError(f"GATEWAY_MODEL_PROFILES must be a dict, not {type(value).__name__}")
    profiles = []
    for glob, fields in value.items():
        name = f"GATEWAY_MODEL_PROFILES[{glob!r}]"
        if not isinstance(glob, str) or not glob:
            raise ValueError(f"{name}: keys must be non-empty model globs")
        if not isinstance(fields, Mapping):
            raise ValueError(f"{name} must be a dict")
        if unknown := set(fields) - PROFILE_KEYS:
            raise ValueError(
                f"{name}: unknown keys {sorted(map(str, unknown))}; allowed: {sorted(PROFILE_KEYS)}"
            )
        if "reasoning" in fields and not isinstance(fields["reasoning"], bool):
            raise ValueError(f"{name}['reasoning'] must be true or false")
        cap = fields.get("max_output_tokens")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise ValueError(f"{name}['max_output_tokens'] must be a positive integer or None")
        effort = fields.get("default_reasoning_effort")
        if effort is not None and effort not in REASONING_EFFORTS:
            raise ValueError(f"{name}['default_reasoning_effort'] must be one of {REASONING_EFFORTS} or None")
        efforts = fields.get("reasoning_efforts")
        if efforts is not None and (
            isinstance(efforts, str)
            or not isinstance(efforts, Sequence)
            or not efforts
            or not set(efforts) <= set(REASONING_EFFORTS)
        ):
            raise ValueError(
                f"{name}['reasoning_efforts'] must be a non-empty list drawn from {REASONING_EFFORTS}"
            )
        fields = dict(fields)
        if efforts is not None:
            fields["reasoning_efforts"] = tuple(efforts)
        profiles.append((glob, fields))
    return profiles


def profile_for(upstream_model: str, overrides: Sequence[tuple[str, Mapping[str, Any]]] = ()) -> ModelProfile:
    """The built-in profile of ``upstream_model``, with the first matching override applied."""
    base = _builtin_profile(upstream_model)
    for glob, fields in overrides:
        if fnmatchcase(upstream_model, glob):
            return replace(base, **fields)
    return base


@lru_cache(maxsize=256)
def _builtin_profile(upstream_model: str) -> ModelProfile:
    """The first built-in profile whose glob matches (remembered: every request asks, with few names)."""
    return next((p for glob, p in BUILTIN_PROFILES if fnmatchcase(upstream_model, glob)), ModelProfile())
