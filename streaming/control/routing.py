"""Client model name -> route: the upstream to call, the upstream model, and what that model accepts.

``GATEWAY_MODEL_MAP`` is ``"glob=model,glob=model"`` (or a list of ``(glob, model)`` pairs): fnmatch-style,
case-sensitive globs over the client's model name, first match wins, no match -> the name passes through
unchanged. The default (``*haiku*=gpt-5-mini,claude-*=gpt-5``, in ``streaming.conf``) sends Claude Code's
main model to ``gpt-5`` and its small/fast model to ``gpt-5-mini``.

A route carries the upstream as a value (``streaming.transport.UpstreamConfig``); the settings'
``OPENAI_API_KEY``/``OPENAI_BASE_URL`` are the default upstream. Pure except ``route_for``, which reads
the settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from streaming.conf import gateway_settings
from streaming.control.profiles import parse_model_profiles, profile_for
from streaming.translate.context import TargetModel
from streaming.transport import UpstreamConfig, settings_upstream


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request goes: the upstream (URL, key, headers, timeouts) and the target model there."""

    upstream: UpstreamConfig
    target: TargetModel


def parse_model_map(value: object) -> list[tuple[str, str]]:
    """``"glob=model,glob=model"`` (or pairs) as a list of pairs; ValueError naming the bad entry."""
    if isinstance(value, str):
        pairs = []
        for raw in value.split(","):
            entry = raw.strip()
            if not entry:
                continue
            glob, sep, model = (part.strip() for part in entry.partition("="))
            if not sep or not glob or not model or "=" in model:
                raise ValueError(f"GATEWAY_MODEL_MAP entry {entry!r} is not of the form 'glob=model'")
            pairs.append((glob, model))
        return pairs
    if isinstance(value, list | tuple):
        pairs = []
        for entry in value:
            if (
                not isinstance(entry, list | tuple)
                or len(entry) != 2
                or not all(isinstance(part, str) and part for part in entry)
            ):
                raise ValueError(f"GATEWAY_MODEL_MAP entry {entry!r} is not a (glob, model) pair of strings")
            pairs.append((entry[0], entry[1]))
        return pairs
    raise ValueError(f"GATEWAY_MODEL_MAP must be a string or a list of pairs, not {type(value).__name__}")


def resolve_target(
    client_model: str,
    model_map: str | list[tuple[str, str]],
    profiles: Mapping[str, Any] | None = None,
) -> TargetModel:
    """Where ``client_model`` goes: first matching glob, else the name unchanged; plus that model's profile."""
    upstream_model = next(
        (model for glob, model in parse_model_map(model_map) if fnmatchcase(client_model, glob)), client_model
    )
    profile = profile_for(upstream_model, parse_model_profiles(profiles))
    return TargetModel(
        client_model=client_model,
        upstream_model=upstream_model,
        reasoning=profile.reasoning,
        max_output_tokens=profile.max_output_tokens,
        default_reasoning_effort=profile.default_reasoning_effort,
        reasoning_efforts=profile.reasoning_efforts,
    )


def route_for(client_model: str) -> Route:
    """The route with the gateway's settings (read at call time, so override_settings works)."""
    target = resolve_target(client_model, gateway_settings.MODEL_MAP, gateway_settings.MODEL_PROFILES)
    return Route(upstream=settings_upstream(), target=target)
