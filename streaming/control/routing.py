"""Client model name -> route: the upstream to call, the upstream model, and what that model accepts.

Pure over a registry snapshot and the settings. In order:

1. The database's enabled routes (``ModelRoute``), lowest ``priority`` first: the first whose glob
   ``pattern`` matches the client's model name wins; it names its upstream (blank: the default one) and
   the upstream model (blank: the client's name). A route to a disabled upstream is skipped.
2. ``GATEWAY_MODEL_MAP`` (``"glob=model,glob=model"`` or a list of ``(glob, model)`` pairs;
   fnmatch-style, case-sensitive, first match wins) on the default upstream. The default
   (``*haiku*=gpt-5-mini,claude-*=gpt-5``, in ``streaming.conf``) sends Claude Code's main model to
   ``gpt-5`` and its small/fast model to ``gpt-5-mini``.
3. Anything else goes to the default upstream unchanged, unless ``GATEWAY_REFUSE_UNROUTED_MODELS`` is on
   (404 ``not_found_error``), so a key holder cannot pick any model the upstream sells.

The default upstream is the database's enabled ``is_default`` upstream, else the one the settings'
``OPENAI_API_KEY``/``OPENAI_BASE_URL`` describe. The target model's profile is the built-in one
(``profiles``), overridden by ``GATEWAY_MODEL_PROFILES``, then by the route's explicit reasoning, output
cap and default effort; what the upstream taught (``capabilities``) is left out of the payload, except
where the route's explicit reasoning setting says otherwise (the route wins over learning).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from streaming.conf import gateway_settings
from streaming.control import capabilities
from streaming.control.profiles import parse_model_profiles, profile_for
from streaming.control.registry import RouteRule, Snapshot
from streaming.errors import NotFoundError
from streaming.translate.context import TargetModel
from streaming.transport import UpstreamConfig, settings_upstream


@dataclass(frozen=True, slots=True)
class Route:
    """Where one request goes: the upstream (URL, key, headers, timeouts) and the target model there."""

    upstream: UpstreamConfig
    target: TargetModel
    rule_id: int | None = None  # the database route that matched, if one did


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


def _model_map() -> Sequence[tuple[str, str]]:
    """``GATEWAY_MODEL_MAP`` parsed (once per distinct text: every request routes through it)."""
    value = gateway_settings.MODEL_MAP
    return _parsed_model_map(value) if isinstance(value, str) else parse_model_map(value)


@lru_cache(maxsize=8)
def _parsed_model_map(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(parse_model_map(text))


def resolve_target(
    client_model: str,
    model_map: str | list[tuple[str, str]],
    profiles: Mapping[str, Any] | None = None,
) -> TargetModel:
    """Where ``client_model`` goes by the model map: first matching glob, else the name unchanged."""
    upstream_model = next(
        (model for glob, model in parse_model_map(model_map) if fnmatchcase(client_model, glob)), client_model
    )
    return target_model(client_model, upstream_model, profiles)


def target_model(
    client_model: str,
    upstream_model: str,
    profiles: Mapping[str, Any] | None = None,
    rule: RouteRule | None = None,
    learned: Mapping[str, frozenset[str]] | None = None,
) -> TargetModel:
    """The upstream model's profile: built-in, then the settings' overrides, then the route's, then learning."""
    profile = profile_for(upstream_model, parse_model_profiles(profiles))
    reasoning = profile.reasoning
    unsupported = capabilities.unsupported(learned or {}, upstream_model)
    if rule is not None and rule.reasoning != "auto":
        reasoning = rule.reasoning == "on"
        # Facts about the whole upstream (its organisation, its endpoints) still apply.
        unsupported &= capabilities.UPSTREAM_WIDE_PARAMS
    return TargetModel(
        client_model=client_model,
        upstream_model=upstream_model,
        reasoning=reasoning,
        max_output_tokens=(rule and rule.max_output_tokens) or profile.max_output_tokens,
        default_reasoning_effort=(rule and rule.default_effort) or profile.default_reasoning_effort,
        reasoning_efforts=profile.reasoning_efforts,
        unsupported=unsupported,
    )


def default_upstream(snapshot: Snapshot) -> UpstreamConfig:
    return snapshot.default_upstream or settings_upstream()


def route_for(client_model: str, snapshot: Snapshot) -> Route:
    """The route for ``client_model`` (settings read at call time, so override_settings works)."""
    profiles = gateway_settings.MODEL_PROFILES
    for rule in snapshot.routes:
        if rule.matches(client_model):
            upstream = (
                snapshot.upstreams[rule.upstream_id]
                if rule.upstream_id is not None
                else default_upstream(snapshot)
            )
            upstream_model = rule.upstream_model or client_model
            learned = snapshot.learned.get(upstream.name)
            target = target_model(client_model, upstream_model, profiles, rule, learned)
            return Route(upstream, target, rule.id)
    upstream = default_upstream(snapshot)
    learned = snapshot.learned.get(upstream.name)
    for glob, upstream_model in _model_map():
        if fnmatchcase(client_model, glob):
            return Route(upstream, target_model(client_model, upstream_model, profiles, None, learned))
    if gateway_settings.REFUSE_UNROUTED_MODELS:
        raise NotFoundError(f"model: {client_model}")
    return Route(upstream, target_model(client_model, client_model, profiles, None, learned))


def routed(client_model: str, snapshot: Snapshot) -> bool:
    """Whether a route or the model map names ``client_model`` (not merely passing it through)."""
    return any(rule.matches(client_model) for rule in snapshot.routes) or any(
        fnmatchcase(client_model, glob) for glob, _ in _model_map()
    )


def _literal(pattern: str) -> bool:
    return not any(char in pattern for char in "*?[")


def served_models(snapshot: Snapshot) -> list[str]:
    """What ``GET /v1/models`` lists: every route whose pattern is a plain name, then ``GATEWAY_MODELS``
    (those a route or the model map serves, or all of them when unrouted names pass through)."""
    names = [rule.pattern for rule in snapshot.routes if _literal(rule.pattern)]
    refuse = gateway_settings.REFUSE_UNROUTED_MODELS
    names += [name for name in gateway_settings.MODELS if not refuse or routed(name, snapshot)]
    return list(dict.fromkeys(names))


def serves(client_model: str, snapshot: Snapshot) -> bool:
    """Whether ``GET /v1/models/{id}`` knows ``client_model``: listed, or named by a route or the map."""
    return client_model in gateway_settings.MODELS or routed(client_model, snapshot)
