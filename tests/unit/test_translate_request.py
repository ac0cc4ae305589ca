"""Anthropic request -> Responses payload: top-level fields, tools, thinking, and what never goes upstream."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streaming.errors import InvalidRequestError
from streaming.translate.context import TargetModel
from streaming.translate.request import COUNT_FIELDS, supported_effort, translate_request
from streaming.translate.signature import mint_signature

REASONING = TargetModel("claude-x", "gpt-5", reasoning=True, max_output_tokens=128_000)
PLAIN = TargetModel("claude-x", "gpt-4.1", reasoning=False, max_output_tokens=32_768)
UNCAPPED = TargetModel("claude-x", "local", reasoning=False, max_output_tokens=None)
KEY = "signing-key"
# Every field the gateway may send to POST /responses.
PAYLOAD_FIELDS = {
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "reasoning",
    "include",
    "text",
    "prompt_cache_key",
    "safety_identifier",
    "store",
}
TOOL = {"name": "get_weather", "description": "Weather now.", "input_schema": {"type": "object"}}


def body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "claude-x",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


def payload(route: TargetModel = REASONING, **fields: Any) -> dict[str, Any]:
    return dict(translate_request(body(**fields), route, signing_key=KEY).payload)


# --- model, system, limits, sampling ---------------------------------------------------------------------------


def test_model_is_the_upstream_model_and_the_context_keeps_the_client_name() -> None:
    translated = translate_request(body(), REASONING, signing_key=KEY)

    assert translated.payload["model"] == "gpt-5"
    assert (translated.context.client_model, translated.context.upstream_model) == ("claude-x", "gpt-5")


@pytest.mark.parametrize(
    ("system", "instructions"),
    [
        ("Be brief.", "Be brief."),
        (
            [
                {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1"},
                {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}},
            ],
            "x-anthropic-billing-header: cc_version=2.1\n\nYou are Claude Code.",
        ),
    ],
)
def test_system_becomes_instructions(system: object, instructions: str) -> None:
    assert payload(system=system)["instructions"] == instructions


@pytest.mark.parametrize("system", ["", [], [{"type": "text", "text": ""}]])
def test_empty_system_sends_no_instructions(system: object) -> None:
    assert "instructions" not in payload(system=system)


@pytest.mark.parametrize(
    ("route", "max_tokens", "sent"),
    [
        (REASONING, 1024, 1024),
        (REASONING, 128_000, 128_000),
        (PLAIN, 128_000, 32_768),
        (UNCAPPED, 500_000, 500_000),
        (UNCAPPED, 2**31 - 1, 2**31 - 1),
        (PLAIN, 2**31 - 1, 32_768),
        (REASONING, 1, 16),
    ],
)
def test_max_tokens_is_verbatim_clamped_only_to_the_model_cap_and_the_upstream_minimum(
    route: TargetModel, max_tokens: int, sent: int
) -> None:
    assert payload(route, max_tokens=max_tokens)["max_output_tokens"] == sent


def test_temperature_and_top_p_are_forwarded_to_non_reasoning_models() -> None:
    sent = payload(PLAIN, temperature=0.2, top_p=0.9)

    assert (sent["temperature"], sent["top_p"]) == (0.2, 0.9)


def test_temperature_and_top_p_are_dropped_for_reasoning_models() -> None:
    assert {"temperature", "top_p"}.isdisjoint(payload(REASONING, temperature=0.2, top_p=0.9))


def test_top_k_is_never_sent() -> None:
    assert "top_k" not in payload(PLAIN, top_k=40)


def test_stop_sequences_stay_in_the_gateway() -> None:
    translated = translate_request(body(stop_sequences=["END", "\n\nHuman:"]), PLAIN, signing_key=KEY)

    assert "stop" not in translated.payload
    assert translated.context.stop_sequences == ("END", "\n\nHuman:")


def test_store_is_always_false() -> None:
    assert payload()["store"] is False


def test_fields_the_mapping_does_not_know_are_never_sent() -> None:
    sent = payload(
        context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        service_tier="auto",
        container="c",
        inference_geo="us",
        mcp_servers=[{"type": "url", "url": "https://mcp.example", "name": "m"}],
        cache_control={"type": "ephemeral"},
        speed="fast",
        frobnicate=True,
        stream=True,
        metadata={"user_id": "u"},
    )

    assert set(sent) <= PAYLOAD_FIELDS


# --- metadata.user_id -------------------------------------------------------------------------------------------


def test_user_id_becomes_hashed_cache_key_and_safety_identifier() -> None:
    sent = payload(metadata={"user_id": "alice@example.com"})

    for field in ("prompt_cache_key", "safety_identifier"):
        assert re.fullmatch(r"[0-9a-f]{64}", sent[field])
        assert "alice" not in sent[field]


def test_user_id_hashes_are_stable_across_turns() -> None:
    first, second = (payload(metadata={"user_id": "u-1"}) for _ in range(2))

    assert (first["prompt_cache_key"], first["safety_identifier"]) == (
        second["prompt_cache_key"],
        second["safety_identifier"],
    )


def test_claude_code_json_user_id_keys_safety_by_account_and_cache_by_session() -> None:
    def user_id(session: str) -> str:
        return json.dumps({"device_id": "dev", "account_uuid": "acct", "session_id": session})

    one, two = payload(metadata={"user_id": user_id("s1")}), payload(metadata={"user_id": user_id("s2")})

    assert one["safety_identifier"] == two["safety_identifier"]
    assert one["prompt_cache_key"] != two["prompt_cache_key"]


@pytest.mark.parametrize("metadata", [{}, {"user_id": None}, {"user_id": ""}, None])
def test_no_user_id_sends_no_identifiers(metadata: object) -> None:
    assert {"prompt_cache_key", "safety_identifier"}.isdisjoint(payload(metadata=metadata))


# --- tools and tool_choice --------------------------------------------------------------------------------------


def test_custom_tool_becomes_a_non_strict_function_tool() -> None:
    assert payload(tools=[TOOL])["tools"] == [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {}},
            "description": "Weather now.",
            "strict": False,
        }
    ]


def test_unknown_tool_fields_are_dropped_and_the_schema_passes_as_is() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {"n": {"type": "integer", "exclusiveMinimum": 0, "maximum": 9007199254740991}},
        "required": ["n"],
        "additionalProperties": False,
    }
    tool = {
        "type": "custom",
        "name": "Read",
        "input_schema": schema,
        "defer_loading": True,
        "cache_control": {"type": "ephemeral"},
        "input_examples": [{"n": 1}],
        "strict": True,
        "eager_input_streaming": True,
    }

    (function,) = payload(tools=[tool])["tools"]

    assert function == {"type": "function", "name": "Read", "parameters": schema, "strict": False}


@pytest.mark.parametrize(
    ("schema", "parameters"),
    [
        ({}, {"type": "object", "properties": {}}),
        (
            {"properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ),
    ],
)
def test_schema_without_type_gets_the_object_type_openai_requires(
    schema: dict[str, Any], parameters: dict[str, Any]
) -> None:
    (function,) = payload(tools=[{"name": "t", "input_schema": schema}])["tools"]

    assert function["parameters"] == parameters


def test_long_tool_names_are_shortened_and_mapped_back_in_the_context() -> None:
    name = "mcp__a_very_long_server_name__" + "x" * 60
    translated = translate_request(
        body(tools=[{"name": name, "input_schema": {}}]), REASONING, signing_key=KEY
    )

    (function,) = translated.payload["tools"]
    assert len(function["name"]) <= 64
    assert translated.context.tool_names == {function["name"]: name}


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "tool", "name": "get_weather"}, {"type": "function", "name": "get_weather"}),
        ({"type": "none"}, "none"),
    ],
)
def test_tool_choice_maps_to_the_responses_form(choice: dict[str, Any], expected: object) -> None:
    sent = payload(tools=[TOOL], tool_choice=choice)

    assert sent["tool_choice"] == expected
    assert "parallel_tool_calls" not in sent


@pytest.mark.parametrize("kind", ["auto", "any"])
def test_disable_parallel_tool_use_turns_parallel_calls_off(kind: str) -> None:
    sent = payload(tools=[TOOL], tool_choice={"type": kind, "disable_parallel_tool_use": True})

    assert sent["parallel_tool_calls"] is False


def test_disable_parallel_tool_use_false_leaves_the_upstream_default() -> None:
    sent = payload(tools=[TOOL], tool_choice={"type": "auto", "disable_parallel_tool_use": False})

    assert "parallel_tool_calls" not in sent


def test_no_tools_means_no_tool_fields() -> None:
    assert {"tools", "tool_choice", "parallel_tool_calls"}.isdisjoint(payload(tool_choice={"type": "none"}))


# --- thinking and effort ----------------------------------------------------------------------------------------

ENCRYPTED = ["reasoning.encrypted_content"]
MINIMAL_DEFAULT = TargetModel(
    "claude-x", "gpt-5", reasoning=True, max_output_tokens=128_000, default_reasoning_effort="minimal"
)


@pytest.mark.parametrize(
    ("route", "thinking", "output_config", "reasoning", "include"),
    [
        (
            REASONING,
            {"type": "enabled", "budget_tokens": 1024},
            None,
            {"effort": "low", "summary": "auto"},
            ENCRYPTED,
        ),
        (
            REASONING,
            {"type": "enabled", "budget_tokens": 4095},
            None,
            {"effort": "low", "summary": "auto"},
            ENCRYPTED,
        ),
        (
            REASONING,
            {"type": "enabled", "budget_tokens": 4096},
            None,
            {"effort": "medium", "summary": "auto"},
            ENCRYPTED,
        ),
        (
            REASONING,
            {"type": "enabled", "budget_tokens": 16383},
            None,
            {"effort": "medium", "summary": "auto"},
            ENCRYPTED,
        ),
        (
            REASONING,
            {"type": "enabled", "budget_tokens": 16384},
            None,
            {"effort": "high", "summary": "auto"},
            ENCRYPTED,
        ),
        (REASONING, {"type": "adaptive"}, None, {"effort": "medium", "summary": "auto"}, ENCRYPTED),
        (REASONING, {"type": "between_tools"}, None, {"effort": "medium", "summary": "auto"}, ENCRYPTED),
        (
            REASONING,
            {"type": "adaptive", "display": "omitted"},
            {"effort": "max"},
            {"effort": "xhigh"},  # omitted: no summary; OpenAI has no "max"
            ENCRYPTED,
        ),
        (
            REASONING,
            {"type": "enabled", "budget_tokens": 20000},
            {"effort": "low"},
            {"effort": "low", "summary": "auto"},
            ENCRYPTED,
        ),
        (REASONING, None, {"effort": "xhigh"}, {"effort": "xhigh"}, None),
        (REASONING, {"type": "disabled"}, {"effort": "high"}, {"effort": "high"}, None),
        (REASONING, None, None, None, None),
        (REASONING, {"type": "disabled"}, None, None, None),
        (MINIMAL_DEFAULT, None, None, {"effort": "minimal"}, None),
        (MINIMAL_DEFAULT, {"type": "disabled"}, None, {"effort": "minimal"}, None),
        (PLAIN, {"type": "enabled", "budget_tokens": 4096}, {"effort": "high"}, None, None),
    ],
)
def test_thinking_and_effort_map_to_reasoning(
    route: TargetModel, thinking: object, output_config: object, reasoning: object, include: object
) -> None:
    sent = payload(route, max_tokens=32000, thinking=thinking, output_config=output_config)

    assert (sent.get("reasoning"), sent.get("include")) == (reasoning, include)


@pytest.mark.parametrize(
    ("thinking", "on", "display"),
    [
        (None, False, "summarized"),
        ({"type": "disabled"}, False, "summarized"),
        ({"type": "enabled", "budget_tokens": 2048}, True, "summarized"),
        ({"type": "enabled", "budget_tokens": 2048, "display": "omitted"}, True, "omitted"),
        ({"type": "adaptive", "display": "omitted"}, True, "omitted"),
        ({"type": "adaptive", "display": "summarized"}, True, "summarized"),
    ],
)
def test_context_records_whether_thinking_is_on_and_how_it_is_shown(
    thinking: object, on: bool, display: str
) -> None:
    context = translate_request(body(max_tokens=4096, thinking=thinking), REASONING, signing_key=KEY).context

    assert (context.thinking, context.thinking_display) == (on, display)


def test_effort_without_thinking_keeps_thinking_blocks_off() -> None:
    context = translate_request(body(output_config={"effort": "high"}), REASONING, signing_key=KEY).context

    assert context.thinking is False


@pytest.mark.parametrize("field", ["output_config", "output_format"])
def test_json_schema_output_format_becomes_text_format(field: str) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": False}
    value: dict[str, Any] = {"type": "json_schema", "schema": schema}

    sent = payload(**{field: {"format": value} if field == "output_config" else value})

    assert sent["text"] == {
        "format": {"type": "json_schema", "name": "output", "schema": schema, "strict": False}
    }


# --- count_tokens ------------------------------------------------------------------------------------------------


def test_count_only_payload_has_only_fields_the_counting_endpoint_accepts() -> None:
    request_body = body(
        tools=[TOOL],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        system="s",
        thinking={"type": "adaptive"},
        metadata={"user_id": "u"},
        temperature=0.5,
        output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
    )
    del request_body["max_tokens"]

    sent = translate_request(request_body, REASONING, signing_key=KEY, count_only=True).payload

    assert set(sent) == set(COUNT_FIELDS)


def test_count_only_payload_asks_for_no_reasoning_summary() -> None:
    request_body = body(thinking={"type": "enabled", "budget_tokens": 2048})
    del request_body["max_tokens"]

    sent = translate_request(request_body, REASONING, signing_key=KEY, count_only=True).payload

    assert sent["reasoning"] == {"effort": "low"}


# --- a real Claude Code turn ------------------------------------------------------------------------------------


def _claude_code_tool(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"The {name} tool.",
        "input_schema": {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600000},
                "limit": {"type": "integer", "minimum": -9007199254740991, "maximum": 9007199254740991},
                "mode": {"type": "string", "enum": ["a", "b"]},
            },
            "required": ["mode"],
            "additionalProperties": False,
        },
    }


CLAUDE_CODE_TOOLS = [
    *map(
        _claude_code_tool,
        [
            "Agent",
            "Bash",
            "Edit",
            "ListAgents",
            "Read",
            "ReportFindings",
            "ScheduleWakeup",
            "Skill",
            "ToolSearch",
        ],
    ),
    _claude_code_tool("Workflow"),
    {
        "name": "DeferredToolPlaceholder",
        "description": "Never call this.",
        "input_schema": {},
        "defer_loading": True,
    },
    _claude_code_tool("Write"),
]
CACHED = {"type": "ephemeral"}
CLAUDE_CODE_TURN_2 = {
    "model": "claude-opus-5-5",
    "max_tokens": 128000,
    "stream": True,
    "thinking": {"type": "adaptive", "display": "omitted"},
    "output_config": {"effort": "medium"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "metadata": {
        "user_id": json.dumps(
            {"device_id": "9f2c", "account_uuid": "", "session_id": "4be1d6f0-5a3c-4f57-9d3e"}
        )
    },
    "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.330; cc_entrypoint=sdk-cli;"},
        {
            "type": "text",
            "text": "You are Claude Code, Anthropic's official CLI for Claude.",
            "cache_control": CACHED,
        },
        {"type": "text", "text": "Instructions. " * 500, "cache_control": CACHED},
    ],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>Be careful.</system-reminder>"},
                {"type": "text", "text": "What is the launch code in notes.txt?"},
            ],
        },
        {
            "role": "system",
            "content": "cwd: /tmp/work\nplatform: linux\nshell: bash\ndate: 2026-11-24",
            "output_config": {"effort": "medium"},
            "cache_control": CACHED,
        },
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_call_abc123",
                    "name": "Read",
                    "input": {"mode": "a", "limit": 9007199254740991},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_call_abc123",
                    "content": "1\tThe launch code is 0000\n2\t",
                    "cache_control": CACHED,
                }
            ],
        },
    ],
    "tools": CLAUDE_CODE_TOOLS,
}


def test_claude_code_turn_two_translates() -> None:
    translated = translate_request(CLAUDE_CODE_TURN_2, REASONING, signing_key=KEY)
    sent = translated.payload

    assert set(sent) <= PAYLOAD_FIELDS
    assert sent["max_output_tokens"] == 128000
    assert sent["reasoning"] == {"effort": "medium"}  # display omitted: no summary asked for
    assert [item["type"] for item in sent["input"]] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]
    assert sent["input"][1]["role"] == "developer"
    assert sent["input"][2]["call_id"] == sent["input"][3]["call_id"] == "call_abc123"
    assert sent["input"][3]["output"] == "1\tThe launch code is 0000\n2\t"
    assert [tool["name"] for tool in sent["tools"]] == [tool["name"] for tool in CLAUDE_CODE_TOOLS]
    assert (translated.context.thinking, translated.context.thinking_display) == (True, "omitted")


def test_translation_is_deterministic_so_the_upstream_prompt_cache_hits() -> None:
    first = translate_request(CLAUDE_CODE_TURN_2, REASONING, signing_key=KEY).payload
    second = translate_request(json.loads(json.dumps(CLAUDE_CODE_TURN_2)), REASONING, signing_key=KEY).payload

    assert json.dumps(first) == json.dumps(second)


def test_a_body_nested_too_deeply_to_convert_is_a_400() -> None:
    deep: Any = {}
    for _ in range(5000):
        deep = {"a": deep}
    messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": [tool_use_block(deep)]}]

    with pytest.raises(InvalidRequestError, match="nested too deeply"):
        translate_request(body(messages=messages), REASONING, signing_key=KEY)


def tool_use_block(arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_1", "name": "a", "input": arguments}


# --- whatever comes in: a payload or a 400 -----------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
BLOCK_TYPES = [
    "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "search_result",
    "server_tool_use", "web_search_tool_result", "compaction", "fallback", "tool_reference", "tool_addition", "junk",
]  # fmt: skip
SIGNATURE = mint_signature("rs_1", "enc", KEY)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | JSON


SOURCE = st.fixed_dictionaries(
    {"type": _maybe(st.sampled_from(["base64", "url", "text", "content", "file"]))},
    optional={
        "media_type": _maybe(st.sampled_from(["image/png", "application/pdf", "text/plain"])),
        "data": _maybe(st.text(max_size=4)),
        "url": _maybe(st.just("https://example.com/a")),
        "content": JSON,
    },
)
BLOCK = st.recursive(
    st.fixed_dictionaries(
        {"type": _maybe(st.sampled_from(BLOCK_TYPES))},
        optional={
            "text": _maybe(st.text(max_size=4)),
            "source": _maybe(SOURCE),
            "id": _maybe(st.sampled_from(["toolu_1", "toolu_2"])),
            "tool_use_id": _maybe(st.sampled_from(["toolu_1", "toolu_2"])),
            "name": _maybe(st.sampled_from(["a", "b" * 70])),
            "input": JSON,
            "is_error": JSON,
            "thinking": _maybe(st.text(max_size=4)),
            "signature": _maybe(st.just(SIGNATURE)),
            "data": _maybe(st.just(SIGNATURE)),
            "title": JSON,
            "tool_name": JSON,
        },
    ),
    lambda children: st.fixed_dictionaries(
        {
            "type": st.sampled_from(["tool_result", "search_result"]),
            "content": st.lists(children, max_size=2),
        },
        optional={"tool_use_id": st.just("toolu_1"), "title": st.just("t"), "source": st.just("s")},
    ),
    max_leaves=4,
)
MESSAGE = st.fixed_dictionaries(
    {"role": _maybe(st.sampled_from(["user", "assistant", "system"]))},
    optional={"content": st.text(max_size=4) | st.lists(BLOCK, max_size=3) | JSON},
)
BODY = st.fixed_dictionaries(
    {},
    optional={
        "model": _maybe(st.just("claude-x")),
        "max_tokens": _maybe(st.integers(min_value=-2, max_value=200_000)),
        "messages": _maybe(st.lists(MESSAGE, max_size=4)),
        "system": JSON,
        "temperature": JSON,
        "top_p": JSON,
        "top_k": JSON,
        "stop_sequences": JSON,
        "metadata": _maybe(st.fixed_dictionaries({}, optional={"user_id": JSON})),
        "tools": _maybe(
            st.lists(st.fixed_dictionaries({"name": JSON, "input_schema": JSON}, optional={"type": JSON}))
        ),
        "tool_choice": _maybe(st.fixed_dictionaries({"type": JSON}, optional={"name": JSON})),
        "thinking": _maybe(
            st.fixed_dictionaries({"type": JSON}, optional={"budget_tokens": JSON, "display": JSON})
        ),
        "output_config": _maybe(st.fixed_dictionaries({}, optional={"effort": JSON, "format": JSON})),
        "stream": JSON,
    },
)


TEXT = st.text(max_size=4)
PLAUSIBLE_BLOCK = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": TEXT}),
    st.fixed_dictionaries({"type": st.just("image"), "source": SOURCE}),
    st.fixed_dictionaries(
        {"type": st.just("document"), "source": SOURCE}, optional={"title": TEXT, "context": TEXT}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("tool_use"),
            "id": st.sampled_from(["toolu_1", "call_2"]),
            "name": st.sampled_from(["a", "b" * 70]),
            "input": st.dictionaries(TEXT, JSON, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("tool_result"), "tool_use_id": st.sampled_from(["toolu_1", "call_2"])},
        optional={"content": TEXT | st.lists(BLOCK, max_size=2), "is_error": st.booleans()},
    ),
    st.fixed_dictionaries(
        {"type": st.just("thinking"), "thinking": TEXT, "signature": st.sampled_from([SIGNATURE, "EqQB"])}
    ),
    st.fixed_dictionaries({"type": st.just("redacted_thinking"), "data": st.sampled_from([SIGNATURE, "x"])}),
    BLOCK,
)
PLAUSIBLE_BODY = st.fixed_dictionaries(
    {
        "model": st.just("claude-x"),
        "max_tokens": st.integers(min_value=1, max_value=200_000),
        "messages": st.lists(
            st.fixed_dictionaries(
                {
                    "role": st.sampled_from(["user", "assistant", "system"]),
                    "content": TEXT | st.lists(PLAUSIBLE_BLOCK, max_size=4),
                }
            ),
            min_size=1,
            max_size=5,
        ),
    },
    optional={
        "system": TEXT | st.lists(st.fixed_dictionaries({"type": st.just("text"), "text": TEXT})),
        "tools": st.lists(
            st.fixed_dictionaries({"name": st.sampled_from(["a", "b" * 70]), "input_schema": st.just({})}),
            max_size=1,
        ),
        "thinking": st.just({"type": "adaptive"}),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request_body=BODY | JSON,
    route=st.sampled_from([REASONING, PLAIN, MINIMAL_DEFAULT]),
    count_only=st.booleans(),
)
def test_any_json_body_either_translates_or_is_a_400(
    request_body: object, route: TargetModel, count_only: bool
) -> None:
    try:
        translated = translate_request(request_body, route, signing_key=KEY, count_only=count_only)
    except InvalidRequestError as error:
        assert error.message
    else:
        json.dumps(translated.payload)


GPT5 = TargetModel(
    "claude-x", "gpt-5", reasoning=True, reasoning_efforts=("minimal", "low", "medium", "high")
)


@pytest.mark.parametrize(
    ("requested", "sent"),
    [
        ("low", "low"),
        ("high", "high"),
        ("xhigh", "high"),
        ("max", "high"),
        ("medium", "medium"),
    ],
)
def test_efforts_the_model_does_not_accept_move_to_the_nearest_accepted_level(
    requested: str, sent: str
) -> None:
    request = body(thinking={"type": "adaptive"}, output_config={"effort": requested})

    assert translate_request(request, GPT5, signing_key=KEY).payload["reasoning"]["effort"] == sent


@pytest.mark.parametrize(
    ("effort", "supported", "expected"),
    [
        ("max", None, "xhigh"),  # OpenAI has no "max"
        ("xhigh", None, "xhigh"),
        ("max", ("high",), "high"),
        ("low", ("high",), "high"),
        ("medium", ("none", "low", "xhigh"), "low"),
        ("whatever", ("low",), "whatever"),
    ],
)
def test_supported_effort(effort: str, supported: tuple[str, ...] | None, expected: str) -> None:
    assert supported_effort(effort, supported) == expected
