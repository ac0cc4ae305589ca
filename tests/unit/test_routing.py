"""Model map parsing, route resolution and upstream model profiles (streaming.control.routing)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from streaming.conf import DEFAULTS
from streaming.control.profiles import ModelProfile, parse_model_profiles
from streaming.control.routing import parse_model_map, resolve_target, route_for
from streaming.translate.context import TargetModel


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("claude-*=gpt-5", [("claude-*", "gpt-5")]),
        (" *haiku* = gpt-5-mini , claude-*=gpt-5 ,", [("*haiku*", "gpt-5-mini"), ("claude-*", "gpt-5")]),
        ([("a*", "b")], [("a*", "b")]),
        ([["a*", "b"]], [("a*", "b")]),
    ],
)
def test_model_map_parses_globs_and_models_in_order(value: object, expected: list[tuple[str, str]]) -> None:
    assert parse_model_map(value) == expected


@pytest.mark.parametrize(
    "value", ["claude-x", "=gpt-5", "claude-*=", "a=b=c", 5, [("a",)], [("a", 1)], [("", "b")]]
)
def test_model_map_junk_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="GATEWAY_MODEL_MAP"):
        parse_model_map(value)


@pytest.mark.parametrize(
    ("client_model", "upstream_model"),
    [
        ("claude-opus-5-5", "gpt-5"),
        ("claude-sonnet-4-5", "gpt-5"),
        ("claude-haiku-4-5", "gpt-5-mini"),
        ("gpt-4.1", "gpt-4.1"),
        ("Claude-Opus", "Claude-Opus"),
    ],
)
def test_default_map_routes_claude_models_and_passes_others_through(
    client_model: str, upstream_model: str
) -> None:
    route = resolve_target(client_model, DEFAULTS["GATEWAY_MODEL_MAP"])

    assert (route.client_model, route.upstream_model) == (client_model, upstream_model)


def test_first_matching_glob_wins() -> None:
    route = resolve_target("claude-haiku-4-5", "claude-*=gpt-5,*haiku*=gpt-5-mini")

    assert route.upstream_model == "gpt-5"


@pytest.mark.parametrize(
    ("upstream_model", "profile"),
    [
        ("gpt-5", ModelProfile(reasoning=True, max_output_tokens=128_000)),
        ("gpt-5-mini", ModelProfile(reasoning=True, max_output_tokens=128_000)),
        ("gpt-5.2-codex", ModelProfile(reasoning=True, max_output_tokens=128_000)),
        ("gpt-5-pro", ModelProfile(reasoning=True, max_output_tokens=272_000)),
        ("gpt-5-chat-latest", ModelProfile(reasoning=False, max_output_tokens=16_384)),
        ("o3", ModelProfile(reasoning=True, max_output_tokens=100_000)),
        ("o4-mini-2025-04-16", ModelProfile(reasoning=True, max_output_tokens=100_000)),
        ("o1-mini", ModelProfile(reasoning=True, max_output_tokens=65_536)),
        ("gpt-4.1-mini", ModelProfile(reasoning=False, max_output_tokens=32_768)),
        ("gpt-4o", ModelProfile(reasoning=False, max_output_tokens=16_384)),
        ("gpt-4o-mini", ModelProfile(reasoning=False, max_output_tokens=16_384)),
        ("my-local-model", ModelProfile(reasoning=False, max_output_tokens=None)),
    ],
)
def test_builtin_profiles_know_reasoning_models_and_output_caps(
    upstream_model: str, profile: ModelProfile
) -> None:
    route = resolve_target("client", f"client={upstream_model}")

    assert ModelProfile(route.reasoning, route.max_output_tokens, route.default_reasoning_effort) == profile


def test_profile_override_changes_only_the_keys_it_names() -> None:
    route = resolve_target("c", "c=gpt-5", {"gpt-5*": {"max_output_tokens": 64_000}})

    assert route == TargetModel(
        "c",
        "gpt-5",
        reasoning=True,
        max_output_tokens=64_000,
        reasoning_efforts=("minimal", "low", "medium", "high"),
    )


def test_profile_override_describes_an_unknown_model() -> None:
    profiles = {"local-*": {"reasoning": True, "default_reasoning_effort": "low"}}

    route = resolve_target("c", "c=local-r1", profiles)

    assert route == TargetModel(
        "c", "local-r1", reasoning=True, max_output_tokens=None, default_reasoning_effort="low"
    )


def test_first_matching_profile_override_wins() -> None:
    profiles = {"gpt-4.1*": {"max_output_tokens": 1000}, "gpt-4*": {"max_output_tokens": 2000}}

    assert resolve_target("c", "c=gpt-4.1", profiles).max_output_tokens == 1000


@pytest.mark.parametrize(
    "value",
    [
        [("gpt-5", {})],
        {"": {}},
        {"gpt-5": []},
        {"gpt-5": {"reasoning": "yes"}},
        {"gpt-5": {"max_output_tokens": 0}},
        {"gpt-5": {"max_output_tokens": True}},
        {"gpt-5": {"default_reasoning_effort": "extreme"}},
        {"gpt-5": {"reasoning_efforts": "high"}},
        {"gpt-5": {"reasoning_efforts": []}},
        {"gpt-5": {"reasoning_efforts": ["extreme"]}},
        {"gpt-5": {"temperature": 0}},
    ],
)
def test_profile_junk_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="GATEWAY_MODEL_PROFILES"):
        parse_model_profiles(value)


def test_route_for_reads_the_settings_at_call_time() -> None:
    with override_settings(
        GATEWAY_MODEL_MAP="claude-*=o3",
        GATEWAY_MODEL_PROFILES={"o3": {"default_reasoning_effort": "high"}},
        OPENAI_BASE_URL="http://upstream.test/v1",
        OPENAI_API_KEY="sk-from-settings",
    ):
        route = route_for("claude-opus-5-5")

    assert (route.upstream.base_url, route.upstream.api_key) == (
        "http://upstream.test/v1",
        "sk-from-settings",
    )
    assert route.target == TargetModel(
        "claude-opus-5-5",
        "o3",
        reasoning=True,
        max_output_tokens=100_000,
        default_reasoning_effort="high",
        reasoning_efforts=("low", "medium", "high"),
    )


@pytest.mark.parametrize(
    ("upstream", "efforts"),
    [
        ("gpt-5", ("minimal", "low", "medium", "high")),
        ("gpt-5-mini", ("minimal", "low", "medium", "high")),
        ("gpt-5-pro", ("high",)),
        ("gpt-5.2", None),
        ("o4-mini", ("low", "medium", "high")),
        ("gpt-4.1", None),
    ],
)
def test_builtin_profiles_know_which_efforts_a_model_accepts(
    upstream: str, efforts: tuple[str, ...] | None
) -> None:
    assert resolve_target("c", f"c={upstream}").reasoning_efforts == efforts


def test_accepted_efforts_can_be_overridden() -> None:
    route = resolve_target("c", "c=gpt-5.2", {"gpt-5.2": {"reasoning_efforts": ["none", "low", "xhigh"]}})

    assert route.reasoning_efforts == ("none", "low", "xhigh")
