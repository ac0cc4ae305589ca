"""Model map parsing, route resolution and upstream model profiles (streaming.control.routing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from streaming.conf import DEFAULTS
from streaming.control.profiles import ModelProfile, parse_model_profiles
from streaming.control.registry import RouteRule, Snapshot
from streaming.control.routing import parse_model_map, resolve_target, route_for, served_models, serves
from streaming.errors import NotFoundError
from streaming.translate.context import TargetModel
from streaming.transport import UpstreamConfig


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
        ("my-local-model", ModelProfile(reasoning=None, max_output_tokens=None)),  # unknown
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
        route = route_for("claude-opus-5-5", Snapshot("v"))

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


# --- routes from the database (over a registry snapshot) ---------------------------------------------------

DB = UpstreamConfig(name="azure", base_url="https://azure.test/openai/v1", api_key="az-key")
LOCAL = UpstreamConfig(name="local", base_url="http://vllm.test/v1")


def rule(pattern: str, upstream_id: int | None = 1, upstream_model: str = "", **fields: Any) -> RouteRule:
    return RouteRule(
        id=fields.pop("id", 7),
        pattern=pattern,
        upstream_id=upstream_id,
        upstream_model=upstream_model,
        reasoning=fields.pop("reasoning", "auto"),
        **fields,
    )


def snapshot(*rules: RouteRule, default: UpstreamConfig | None = None, **learned: Any) -> Snapshot:
    return Snapshot("v", upstreams={1: DB, 2: LOCAL}, default_upstream=default, routes=rules, learned=learned)


SETTINGS = {"OPENAI_BASE_URL": "http://settings.test/v1", "OPENAI_API_KEY": "sk-settings"}


@override_settings(**SETTINGS, GATEWAY_MODEL_MAP="claude-*=gpt-5")
def test_a_database_route_wins_over_the_model_map_and_names_its_upstream_and_model() -> None:
    route = route_for("claude-opus-5-5", snapshot(rule("claude-opus-*", 1, "gpt-5.2")))

    assert route.upstream is DB
    assert (route.target.upstream_model, route.rule_id) == ("gpt-5.2", 7)


@override_settings(**SETTINGS)
def test_routes_are_tried_in_order_and_the_first_match_wins() -> None:
    rules = (rule("claude-*haiku*", 2, "small", id=1), rule("claude-*", 1, "big", id=2))

    assert route_for("claude-haiku-4-5", snapshot(*rules)).upstream is LOCAL
    assert route_for("claude-opus-5-5", snapshot(*rules)).upstream is DB


@override_settings(**SETTINGS)
def test_a_route_without_upstream_model_keeps_the_clients_name_and_without_upstream_uses_the_default() -> (
    None
):
    route = route_for("my-model", snapshot(rule("my-*", None), default=LOCAL))

    assert (route.upstream, route.target.upstream_model) == (LOCAL, "my-model")


@override_settings(**SETTINGS, GATEWAY_MODEL_MAP="claude-*=gpt-5")
def test_unmatched_names_go_to_the_default_upstream_by_the_model_map_or_unchanged() -> None:
    with_default = snapshot(default=DB)

    assert (
        route_for("claude-x", with_default).upstream,
        route_for("claude-x", with_default).target.upstream_model,
    ) == (
        DB,
        "gpt-5",
    )
    passthrough = route_for("gpt-4o", snapshot())
    assert (passthrough.upstream.base_url, passthrough.target.upstream_model) == (
        "http://settings.test/v1",
        "gpt-4o",
    )


@override_settings(**SETTINGS, GATEWAY_MODEL_MAP="claude-*=gpt-5", GATEWAY_REFUSE_UNROUTED_MODELS=True)
def test_unrouted_names_can_be_refused() -> None:
    assert route_for("claude-x", snapshot()).target.upstream_model == "gpt-5"
    with pytest.raises(NotFoundError, match="model: gpt-4o"):
        route_for("gpt-4o", snapshot())


@override_settings(**SETTINGS)
def test_a_routes_explicit_profile_overrides_the_builtin_one() -> None:
    route = route_for(
        "c", snapshot(rule("c", 1, "gpt-5", reasoning="off", max_output_tokens=999, default_effort="low"))
    )

    assert (
        route.target.reasoning,
        route.target.max_output_tokens,
        route.target.default_reasoning_effort,
    ) == (
        False,
        999,
        "low",
    )


@override_settings(**SETTINGS)
def test_a_model_no_profile_names_is_of_unknown_reasoning() -> None:
    assert route_for("c", snapshot(rule("c", 2, "gpt-oss-120b"))).target.reasoning is None


@override_settings(**SETTINGS)
def test_what_an_upstream_taught_is_left_out_unless_the_route_says_otherwise() -> None:
    learned = {"local": {"gpt-oss": frozenset({"temperature"}), "*": frozenset({"reasoning.summary"})}}

    auto = route_for("c", snapshot(rule("c", 2, "gpt-oss"), **learned))
    explicit = route_for("c", snapshot(rule("c", 2, "gpt-oss", reasoning="on"), **learned))

    assert auto.target.unsupported == {"temperature", "reasoning.summary"}
    assert explicit.target.unsupported == {"reasoning.summary"}  # the organisation's refusal still holds


@override_settings(GATEWAY_MODELS=["listed"], GATEWAY_MODEL_MAP="claude-*=gpt-5")
def test_served_models_are_the_literal_routes_and_the_listed_names() -> None:
    rules = (rule("my-model"), rule("other-*"))

    assert served_models(snapshot(*rules)) == ["my-model", "listed"]
    assert serves("listed", snapshot()) and serves("claude-anything", snapshot())
    assert serves("other-x", snapshot(*rules)) and not serves("gpt-4o", snapshot())
