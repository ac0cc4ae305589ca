"""Anthropic tools -> Responses tools: web search, Anthropic-defined client tools, and the server tools refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streaming.errors import InvalidRequestError
from streaming.translate.anthropic_tools import DEFINED_TOOLS
from streaming.translate.context import TargetModel
from streaming.translate.request import translate_request

REASONING = TargetModel("claude-x", "gpt-5", reasoning=True, max_output_tokens=128_000)
KEY = "signing-key"
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}
WEATHER = {"name": "get_weather", "input_schema": {"type": "object"}}
CLIENTS = Path(__file__).resolve().parent.parent / "fixtures" / "clients"
SOURCES = "web_search_call.action.sources"


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-x",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def payload(**fields: Any) -> dict[str, Any]:
    return dict(translate_request(body(**fields), REASONING, signing_key=KEY).payload)


def error_message(**fields: Any) -> str:
    with pytest.raises(InvalidRequestError) as raised:
        translate_request(body(**fields), REASONING, signing_key=KEY)
    return raised.value.message


def web_search(**options: Any) -> dict[str, Any]:
    return {**WEB_SEARCH, **options}


# --- web search: the request -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["web_search_20250305", "web_search_20260209", "web_search_20260318"])
def test_every_web_search_version_becomes_the_responses_web_search_tool(kind: str) -> None:
    sent = payload(tools=[{"type": kind, "name": "web_search"}])

    assert sent["tools"] == [{"type": "web_search"}]
    assert sent["include"] == [SOURCES]


def test_allowed_domains_become_the_search_filter() -> None:
    sent = payload(tools=[web_search(allowed_domains=["djangoproject.com", "docs.python.org/3"])])

    assert sent["tools"] == [
        {"type": "web_search", "filters": {"allowed_domains": ["djangoproject.com", "docs.python.org/3"]}}
    ]


def test_user_location_becomes_the_approximate_location_without_its_nulls() -> None:
    location = {
        "type": "approximate",
        "city": "Zürich",
        "region": None,
        "country": "CH",
        "timezone": "Europe/Zurich",
    }

    (tool,) = payload(tools=[web_search(user_location=location)])["tools"]

    assert tool["user_location"] == {
        "type": "approximate",
        "city": "Zürich",
        "country": "CH",
        "timezone": "Europe/Zurich",
    }


def test_max_uses_caps_the_upstreams_built_in_tool_calls() -> None:
    assert payload(tools=[web_search(max_uses=3)])["max_tool_calls"] == 3


def test_without_max_uses_no_cap_is_sent() -> None:
    assert "max_tool_calls" not in payload(tools=[web_search()])


def test_an_empty_blocked_domains_list_blocks_nothing_and_is_accepted() -> None:
    assert payload(tools=[web_search(blocked_domains=[])])["tools"] == [{"type": "web_search"}]


def test_tool_fields_the_upstream_has_no_use_for_are_dropped() -> None:
    tool = web_search(
        cache_control={"type": "ephemeral"}, defer_loading=False, strict=True, allowed_callers=["direct"]
    )

    assert payload(tools=[tool])["tools"] == [{"type": "web_search"}]


def test_web_search_and_thinking_both_ask_for_what_they_need() -> None:
    sent = payload(tools=[web_search()], thinking={"type": "adaptive"})

    assert sent["include"] == ["reasoning.encrypted_content", SOURCES]


def test_web_search_sits_beside_function_tools_and_is_not_a_name_the_model_calls() -> None:
    translated = translate_request(body(tools=[WEATHER, web_search()]), REASONING, signing_key=KEY)

    assert [tool["type"] for tool in translated.payload["tools"]] == ["function", "web_search"]
    assert translated.context.web_search is True


def test_without_web_search_the_context_says_so_and_nothing_is_included() -> None:
    translated = translate_request(body(tools=[WEATHER]), REASONING, signing_key=KEY)

    assert translated.context.web_search is False
    assert "include" not in translated.payload


def test_choosing_the_web_search_tool_requires_the_upstreams_web_search() -> None:
    sent = payload(tools=[WEATHER, web_search()], tool_choice={"type": "tool", "name": "web_search"})

    assert sent["tool_choice"] == {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "web_search"}],
    }


def test_a_custom_tool_named_web_search_stays_a_function() -> None:
    tool = {"name": "web_search", "input_schema": {"type": "object"}}

    sent = payload(tools=[tool], tool_choice={"type": "tool", "name": "web_search"})

    assert sent["tool_choice"] == {"type": "function", "name": "web_search"}
    assert "include" not in sent


@pytest.mark.parametrize("refused", [{"reasoning"}, {"reasoning.effort", "reasoning.summary"}])
def test_a_model_that_refuses_reasoning_still_gets_the_web_search_sources(refused: set[str]) -> None:
    """Dropping reasoning (learned from the upstream's 400s) drops only the encrypted-reasoning include."""
    target = TargetModel("claude-x", "o-model", reasoning=True, unsupported=frozenset(refused))

    translated = translate_request(
        body(tools=[web_search()], thinking={"type": "adaptive"}), target, signing_key=KEY
    )

    assert "reasoning" not in translated.payload
    assert translated.payload["include"] == [SOURCES]


def test_count_tokens_keeps_the_tool_but_not_include_or_the_cap() -> None:
    translated = translate_request(
        {
            "model": "claude-x",
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [web_search(max_uses=2)],
        },
        REASONING,
        signing_key=KEY,
        count_only=True,
    )

    assert translated.payload["tools"] == [{"type": "web_search"}]
    assert {"include", "max_tool_calls"}.isdisjoint(translated.payload)


def test_claude_codes_recorded_web_search_request_translates() -> None:
    """tests/fixtures/clients/claude_code_websearch.json: the request that got a 400 before (issue 11)."""
    recorded = json.loads((CLIENTS / "claude_code_websearch.json").read_text())["body"]

    translated = translate_request(recorded, REASONING, signing_key=KEY)

    sent = translated.payload
    assert sent["tools"] == [{"type": "web_search"}]
    assert (sent["tool_choice"], sent["max_tool_calls"], sent["include"]) == ("auto", 8, [SOURCES])
    assert sent["reasoning"] == {"effort": "medium"}
    assert sent["instructions"].endswith("Search once, then reply with a brief summary of the results.")
    assert translated.context.web_search is True


# --- web search: what is refused ---------------------------------------------------------------------------------

WEB_SEARCH_ERRORS = [
    (
        web_search(blocked_domains=["pinterest.com"]),
        "tools.0.blocked_domains: not supported by this gateway: the upstream's web search can be limited to "
        "a list of domains but not told which to avoid. Remove blocked_domains, or list the domains to search "
        "in allowed_domains.",
    ),
    (
        web_search(allowed_domains=["a.com"], blocked_domains=["b.com"]),
        "tools.0.blocked_domains: not supported by this gateway: the upstream's web search can be limited to "
        "a list of domains but not told which to avoid. Remove blocked_domains, or list the domains to search "
        "in allowed_domains.",
    ),
    (web_search(blocked_domains="b.com"), "tools.0.blocked_domains: Input should be a valid list"),
    (web_search(allowed_domains=[]), "tools.0.allowed_domains: List should have at least 1 item"),
    (
        web_search(allowed_domains=["a.com", ""]),
        "tools.0.allowed_domains.1: String should have at least 1 character",
    ),
    (web_search(user_location={"city": "Bern"}), "tools.0.user_location.type: Field required"),
    (
        web_search(user_location={"type": "exact"}),
        "tools.0.user_location.type: Input should be 'approximate'",
    ),
    (
        web_search(user_location={"type": "approximate", "city": 5}),
        "tools.0.user_location.city: Input should be a valid string",
    ),
    (web_search(max_uses=0), "tools.0.max_uses: Input should be greater than or equal to 1"),
    (web_search(max_uses="5"), "tools.0.max_uses: Input should be a valid integer"),
    (web_search(name="search"), "tools.0.name: Input should be 'web_search'"),
    ({"type": "web_search_20250305"}, "tools.0.name: Field required"),
]


@pytest.mark.parametrize(("tool", "message"), WEB_SEARCH_ERRORS)
def test_web_search_options_the_gateway_cannot_honour_are_a_400_naming_the_field(
    tool: dict[str, Any], message: str
) -> None:
    assert error_message(tools=[tool]) == message


def test_two_web_search_tools_have_the_same_name_and_are_refused() -> None:
    tools = [web_search(), {"type": "web_search_20260209", "name": "web_search"}]

    assert (
        error_message(tools=tools) == "tools.1.name: Tool names must be unique ('web_search' appears twice)"
    )


# --- Anthropic-defined client tools ------------------------------------------------------------------------------

DEFINED = [
    ({"type": "bash_20250124", "name": "bash"}, {"command", "restart"}),
    ({"type": "bash_20241022", "name": "bash"}, {"command", "restart"}),
    (
        {"type": "text_editor_20250124", "name": "str_replace_editor"},
        {"command", "path", "file_text", "old_str", "new_str", "insert_line", "view_range"},
    ),
    (
        {"type": "text_editor_20250429", "name": "str_replace_based_edit_tool"},
        {"command", "path", "file_text", "old_str", "new_str", "insert_line", "view_range"},
    ),
    (
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"command", "path", "file_text", "old_str", "new_str", "insert_line", "insert_text", "view_range"},
    ),
    (
        {"type": "memory_20250818", "name": "memory"},
        {
            "command",
            "path",
            "view_range",
            "file_text",
            "old_str",
            "new_str",
            "insert_line",
            "insert_text",
            "old_path",
            "new_path",
        },
    ),
    (
        {"type": "computer_20241022", "name": "computer", "display_width_px": 1024, "display_height_px": 768},
        {"action", "coordinate", "text"},
    ),
    (
        {"type": "computer_20250124", "name": "computer", "display_width_px": 1280, "display_height_px": 800},
        {"action", "coordinate", "text", "start_coordinate", "scroll_direction", "scroll_amount", "duration"},
    ),
]


@pytest.mark.parametrize(("tool", "properties"), DEFINED, ids=[tool["type"] for tool, _ in DEFINED])
def test_anthropic_defined_tools_become_function_tools_with_their_published_parameters(
    tool: dict[str, Any], properties: set[str]
) -> None:
    (function,) = payload(tools=[tool])["tools"]

    assert (function["type"], function["name"], function["strict"]) == ("function", tool["name"], False)
    assert set(function["parameters"]["properties"]) == properties
    assert function["parameters"]["type"] == "object"
    assert set(function["parameters"]["required"]) <= properties
    assert len(function["description"]) > 200


def test_every_version_the_sdk_knows_has_a_definition() -> None:
    assert set(DEFINED_TOOLS) == {
        "bash_20241022",
        "bash_20250124",
        "text_editor_20241022",
        "text_editor_20250124",
        "text_editor_20250429",
        "text_editor_20250728",
        "memory_20250818",
        "computer_20241022",
        "computer_20250124",
        "computer_20251124",
    }


def command_enum(tool: dict[str, Any]) -> list[str]:
    (function,) = payload(tools=[tool])["tools"]
    properties = function["parameters"]["properties"]
    return list((properties.get("command") or properties["action"])["enum"])


def test_undo_edit_exists_only_before_the_claude_4_text_editors() -> None:
    assert "undo_edit" in command_enum({"type": "text_editor_20250124", "name": "str_replace_editor"})
    assert "undo_edit" not in command_enum(
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}
    )


def test_memory_has_its_six_commands() -> None:
    assert command_enum({"type": "memory_20250818", "name": "memory"}) == [
        "view",
        "create",
        "str_replace",
        "insert",
        "delete",
        "rename",
    ]


def test_the_computer_description_gives_the_display_and_zoom_needs_enable_zoom() -> None:
    computer = {
        "type": "computer_20251124",
        "name": "computer",
        "display_width_px": 1280,
        "display_height_px": 800,
        "display_number": 1,
    }

    (plain,) = payload(tools=[computer])["tools"]
    (zooming,) = payload(tools=[{**computer, "enable_zoom": True}])["tools"]

    assert "1280x800 pixels (X11 display :1)" in plain["description"]
    assert "zoom" not in plain["parameters"]["properties"]["action"]["enum"]
    assert "zoom" in zooming["parameters"]["properties"]["action"]["enum"]
    assert "region" in zooming["parameters"]["properties"]


def test_the_text_editors_max_characters_is_told_to_the_model() -> None:
    tool = {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "max_characters": 10000}

    (function,) = payload(tools=[tool])["tools"]

    assert "at most 10000 characters" in function["description"]


def test_a_defined_tool_can_be_chosen_by_name_and_keeps_its_name_in_the_context() -> None:
    tools = [{"type": "bash_20250124", "name": "bash"}]

    translated = translate_request(
        body(tools=tools, tool_choice={"type": "tool", "name": "bash"}), REASONING, signing_key=KEY
    )

    assert translated.payload["tool_choice"] == {"type": "function", "name": "bash"}
    assert translated.context.tool_names == {}


def test_defined_tool_history_goes_back_as_a_function_call_with_the_same_name_and_input() -> None:
    edit = {"command": "str_replace", "path": "/repo/a.py", "old_str": "x = 1", "new_str": "x = 2"}
    messages = [
        {"role": "user", "content": "fix it"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_call_1",
                    "name": "str_replace_based_edit_tool",
                    "input": edit,
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_call_1", "content": "done"}],
        },
    ]

    sent = payload(
        tools=[{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}], messages=messages
    )

    call = sent["input"][1]
    assert (call["type"], call["name"], json.loads(call["arguments"])) == (
        "function_call",
        "str_replace_based_edit_tool",
        edit,
    )


DEFINED_ERRORS = [
    ({"type": "bash_20250124", "name": "shell"}, "tools.0.name: Input should be 'bash'"),
    (
        {"type": "text_editor_20250728", "name": "str_replace_editor"},
        "tools.0.name: Input should be 'str_replace_based_edit_tool'",
    ),
    ({"type": "computer_20250124", "name": "computer"}, "tools.0.display_width_px: Field required"),
    (
        {"type": "computer_20250124", "name": "computer", "display_width_px": 0, "display_height_px": 768},
        "tools.0.display_width_px: Input should be greater than or equal to 1",
    ),
    (
        {
            "type": "computer_20251124",
            "name": "computer",
            "display_width_px": 1024,
            "display_height_px": 768,
            "enable_zoom": "yes",
        },
        "tools.0.enable_zoom: Input should be a valid boolean",
    ),
    (
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool", "max_characters": 0},
        "tools.0.max_characters: Input should be greater than or equal to 1",
    ),
]


@pytest.mark.parametrize(("tool", "message"), DEFINED_ERRORS)
def test_a_malformed_defined_tool_is_a_400_naming_the_field(tool: dict[str, Any], message: str) -> None:
    assert error_message(tools=[tool]) == message
