"""Finished Responses output -> Anthropic Message (protocol.md C.2-C.6)."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.errors import BadGatewayError, GatewayError, RateLimitError
from streaming.translate.context import RequestContext
from streaming.translate.response import (
    INVALID_ARGUMENTS_KEY,
    parse_arguments,
    response_to_message,
    stop_reason_for,
    usage_from,
)
from streaming.translate.signature import open_signature
from tests.unit.test_golden_fixtures import FIXTURES, MESSAGE_CASES
from tests.unit.test_stream_translator import FIELDS, contexts, json_values, replace_somewhere

KEY = "response-test-key"


def ctx(**overrides: Any) -> RequestContext:
    fields: dict[str, Any] = {
        "client_model": "claude-opus-4-5",
        "upstream_model": "gpt-5",
        "signing_key": KEY,
    }
    fields.update(overrides)
    return RequestContext(**fields)


def text_item(*texts: str) -> dict[str, Any]:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": t} for t in texts],
    }


def call_item(arguments: str = '{"city":"Paris"}', name: str = "get_weather") -> dict[str, Any]:
    return {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": name, "arguments": arguments}


def reasoning_item(
    summary: list[str], encrypted: str | None = "enc", content: list[str] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": t} for t in summary],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    if content is not None:
        item["content"] = [{"type": "reasoning_text", "text": t} for t in content]
    return item


def response(*output: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "resp_42",
        "status": "completed",
        "output": list(output),
        "usage": {"input_tokens": 10, "output_tokens": 3},
    }
    body.update(fields)
    return body


def message(*output: dict[str, Any], context: RequestContext | None = None, **fields: Any) -> dict[str, Any]:
    return response_to_message(response(*output, **fields), context or ctx())


# -- usage ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {
                "input_tokens": 100,
                "input_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
                "output_tokens": 7,
            },
            (30, 10, 60, 7),
        ),
        (
            {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60}, "output_tokens": 7},
            (40, 0, 60, 7),
        ),
        ({"input_tokens": 5, "output_tokens": 2}, (5, 0, 0, 2)),
        ({"input_tokens": 5, "input_tokens_details": None, "output_tokens": None}, (5, 0, 0, 0)),
        (None, (0, 0, 0, 0)),
        ({"input_tokens": "x", "output_tokens": True}, (0, 0, 0, 0)),
    ],
)
def test_usage_subtracts_cached_tokens_and_fills_every_field(usage: Any, expected: tuple[int, ...]) -> None:
    assert usage_from(usage) == dict(
        zip(
            ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens"),
            expected,
            strict=True,
        )
    )


# -- stop reasons -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason", "tool_use", "refusal", "expected"),
    [
        ("completed", None, False, False, "end_turn"),
        ("completed", None, True, False, "tool_use"),
        ("completed", None, False, True, "refusal"),
        ("completed", None, True, True, "tool_use"),
        ("incomplete", "max_output_tokens", True, False, "max_tokens"),
        ("incomplete", "content_filter", False, False, "refusal"),
        ("incomplete", "max_messages", False, False, "end_turn"),
        ("incomplete", None, False, False, "end_turn"),
    ],
)
def test_stop_reason_follows_the_upstream_terminal_state(
    status: str, reason: str | None, tool_use: bool, refusal: bool, expected: str
) -> None:
    assert stop_reason_for(status, reason, tool_use=tool_use, refusal=refusal) == expected


def test_incomplete_response_at_the_token_limit_stops_with_max_tokens() -> None:
    result = message(
        text_item("partial"), status="incomplete", incomplete_details={"reason": "max_output_tokens"}
    )

    assert result["stop_reason"] == "max_tokens"


def test_incomplete_inside_reasoning_with_no_message_has_empty_content() -> None:
    result = message(
        reasoning_item([], encrypted=None),
        status="incomplete",
        incomplete_details={"reason": "max_output_tokens"},
    )

    assert (result["content"], result["stop_reason"]) == ([], "max_tokens")


# -- message shape ----------------------------------------------------------------------------------


def test_message_echoes_the_client_model_and_maps_the_id() -> None:
    result = message(text_item("Hi"))

    assert result == {
        "id": "msg_42",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-5",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 3,
        },
    }


def test_response_without_id_gets_a_fresh_message_id() -> None:
    result = response_to_message({"status": "completed", "output": [text_item("x")]}, ctx())

    assert result["id"].startswith("msg_") and len(result["id"]) > 4


def test_each_output_text_part_becomes_a_text_block_and_empty_ones_are_dropped() -> None:
    result = message(text_item("a", "", "b"))

    assert result["content"] == [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]


def test_refusal_part_becomes_text_and_stops_with_refusal() -> None:
    refusal = {"type": "message", "content": [{"type": "refusal", "refusal": "I can't help with that."}]}

    result = message(refusal)

    assert result["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert result["stop_reason"] == "refusal"


def test_unknown_items_and_parts_are_dropped() -> None:
    odd = {"type": "message", "content": [{"type": "output_audio"}, "junk"]}

    result = message({"type": "web_search_call", "id": "ws_1"}, odd, text_item("ok"))

    assert result["content"] == [{"type": "text", "text": "ok"}]


# -- tool calls -------------------------------------------------------------------------------------


def test_function_call_becomes_tool_use_with_parsed_input() -> None:
    result = message(text_item("Checking."), call_item())

    assert result["content"][1] == {
        "type": "tool_use",
        "id": "toolu_call_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert result["stop_reason"] == "tool_use"


def test_shortened_tool_name_is_mapped_back_to_the_client_name() -> None:
    result = message(
        call_item(name="mcp__srv_1a2b3c"),
        context=ctx(tool_names={"mcp__srv_1a2b3c": "mcp__server__long.name"}),
    )

    assert result["content"][0]["name"] == "mcp__server__long.name"


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": [1, {"b": "ü"}]}', {"a": [1, {"b": "ü"}]}),
        ("", {}),
        ("   ", {}),
        (None, {}),
        ('{"a": ', {INVALID_ARGUMENTS_KEY: '{"a": '}),
        ("[1, 2]", {INVALID_ARGUMENTS_KEY: "[1, 2]"}),
        ("NaN", {INVALID_ARGUMENTS_KEY: "NaN"}),
        ("[" * 100_000, {INVALID_ARGUMENTS_KEY: "[" * 100_000}),
    ],
)
def test_arguments_parse_to_an_object_and_never_raise(arguments: Any, expected: dict[str, Any]) -> None:
    assert parse_arguments(arguments) == expected


# -- thinking ---------------------------------------------------------------------------------------


def test_reasoning_is_dropped_when_thinking_is_off() -> None:
    result = message(reasoning_item(["thought"]), text_item("answer"))

    assert result["content"] == [{"type": "text", "text": "answer"}]


def test_reasoning_becomes_a_thinking_block_with_summaries_joined_and_a_signature() -> None:
    result = message(reasoning_item(["one", "", "two"]), text_item("answer"), context=ctx(thinking=True))

    block = result["content"][0]
    assert (block["type"], block["thinking"]) == ("thinking", "one\n\ntwo")
    assert open_signature(block["signature"], KEY) == ("rs_1", "enc")


def test_raw_reasoning_text_is_used_when_there_is_no_summary() -> None:
    result = message(reasoning_item([], content=["raw", "more"]), context=ctx(thinking=True))

    assert result["content"][0]["thinking"] == "raw\n\nmore"


def test_omitted_display_gives_thinking_with_empty_text_and_a_signature() -> None:
    result = message(reasoning_item(["secret"]), context=ctx(thinking=True, thinking_display="omitted"))

    block = result["content"][0]
    assert (block["type"], block["thinking"]) == ("thinking", "")
    assert open_signature(block["signature"], KEY) == ("rs_1", "enc")


def test_encrypted_reasoning_without_summary_is_redacted_thinking() -> None:
    result = message(reasoning_item([]), context=ctx(thinking=True))

    block = result["content"][0]
    assert block["type"] == "redacted_thinking" and set(block) == {"type", "data"}
    assert open_signature(block["data"], KEY) == ("rs_1", "enc")


def test_reasoning_without_encrypted_content_has_an_empty_signature() -> None:
    result = message(reasoning_item(["thought"], encrypted=None), context=ctx(thinking=True))

    assert result["content"][0] == {"type": "thinking", "thinking": "thought", "signature": ""}


@pytest.mark.parametrize("display", ["summarized", "omitted"])
def test_reasoning_with_nothing_to_show_or_carry_leaves_no_block(display: str) -> None:
    result = message(reasoning_item([], encrypted=None), context=ctx(thinking=True, thinking_display=display))

    assert result["content"] == []


# -- stop sequences ---------------------------------------------------------------------------------


def test_stop_sequence_cuts_the_text_and_drops_later_blocks() -> None:
    result = message(
        text_item("before STOP after", "second"), call_item(), context=ctx(stop_sequences=("STOP",))
    )

    assert result["content"] == [{"type": "text", "text": "before "}]
    assert (result["stop_reason"], result["stop_sequence"]) == ("stop_sequence", "STOP")


def test_stop_sequence_in_a_later_block_keeps_earlier_blocks() -> None:
    result = message(text_item("clean", "then END here"), context=ctx(stop_sequences=("END",)))

    assert result["content"] == [{"type": "text", "text": "clean"}, {"type": "text", "text": "then "}]


def test_stop_sequence_at_the_start_of_a_block_leaves_no_empty_block() -> None:
    result = message(text_item("ok", "END"), context=ctx(stop_sequences=("END",)))

    assert result["content"] == [{"type": "text", "text": "ok"}]


def test_stop_sequences_do_not_apply_to_tool_arguments_or_thinking() -> None:
    result = message(
        reasoning_item(["END"]), call_item('{"q":"END"}'), context=ctx(thinking=True, stop_sequences=("END",))
    )

    assert result["stop_reason"] == "tool_use"
    assert result["content"][1]["input"] == {"q": "END"}


def test_stop_sequence_keeps_the_real_upstream_usage() -> None:
    result = message(text_item("a STOP b"), context=ctx(stop_sequences=("STOP",)))

    assert result["usage"]["output_tokens"] == 3


def test_a_huge_stop_sequence_cuts_many_huge_blocks_in_bounded_memory() -> None:
    sequence = "a" * 100_000
    near_miss = "a" * 99_999 + "b"
    context = ctx(stop_sequences=(sequence,))
    output = text_item(*[near_miss] * 20, near_miss + sequence)

    tracemalloc.start()
    try:
        result = message(output, context=context)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 10 * 1024 * 1024
    assert result["content"][-1] == {"type": "text", "text": near_miss}
    assert result["stop_sequence"] == sequence


# -- failures ---------------------------------------------------------------------------------------


def test_failed_response_raises_the_mapped_error() -> None:
    with pytest.raises(RateLimitError) as raised:
        message(status="failed", error={"code": "rate_limit_exceeded", "message": "Too many"})

    assert raised.value.message == "Too many"


def test_upstream_key_in_a_failed_response_comes_out_redacted() -> None:
    failed = response(status="failed", error={"code": "server_error", "message": "bad key local-token-42"})

    with pytest.raises(GatewayError) as raised:
        response_to_message(failed, ctx(), secrets=("local-token-42",))

    assert raised.value.message == "bad key [redacted]"


@pytest.mark.parametrize("status", ["cancelled", "in_progress", "queued"])
def test_unfinished_or_cancelled_response_is_an_api_error(status: str) -> None:
    with pytest.raises(GatewayError) as raised:
        message(status=status)

    assert isinstance(raised.value, BadGatewayError)
    assert raised.value.error_type == "api_error"


@pytest.mark.parametrize(
    ("status", "message_text"),
    [
        ("cancelled", "The upstream response ended with status 'cancelled'."),
        (["x"] * 3, "The upstream response ended with status of an unexpected form."),
        ("x" * 10_000, "The upstream response ended with status of an unexpected form."),
    ],
)
def test_an_unexpected_status_is_named_only_when_it_is_a_short_string(status: Any, message_text: str) -> None:
    with pytest.raises(BadGatewayError) as raised:
        message(status=status)

    assert raised.value.message == message_text


# -- odd upstream values ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", [{"a": 1}, ["get_weather"], 42, None])
def test_a_function_call_whose_name_is_not_a_string_gets_an_empty_tool_name(name: Any) -> None:
    result = message(call_item(name=name), context=ctx(tool_names={"short": "client_name"}))

    assert result["content"][0]["name"] == ""


@pytest.mark.parametrize("call_id", [{"a": 1}, ["call_1"], 42])
def test_a_function_call_id_that_is_not_a_string_falls_back_to_the_item_id(call_id: Any) -> None:
    result = message({**call_item(), "call_id": call_id})

    assert result["content"][0]["id"] == "toolu_fc_1"


def test_reasoning_with_a_lone_surrogate_in_its_encrypted_content_gets_a_signature_that_opens() -> None:
    result = message(reasoning_item(["one"], encrypted="enc\ud800"), context=ctx(thinking=True))

    assert open_signature(result["content"][0]["signature"], KEY) == ("rs_1", "enc\ud800")


@pytest.mark.parametrize("arguments", ['{"a": NaN}', '{"a": [Infinity]}', '{"a": -Infinity}', '{"a": 1e999}'])
def test_arguments_with_non_json_numbers_are_kept_as_invalid_raw_text(arguments: str) -> None:
    # Python's json accepts NaN and Infinity; the client's JSON parser would not.
    assert parse_arguments(arguments) == {INVALID_ARGUMENTS_KEY: arguments}


@settings(max_examples=150, deadline=None)
@given(body=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8), context=contexts)
def test_any_response_values_give_a_json_message_or_a_gateway_error(
    body: dict[str, Any], context: RequestContext
) -> None:
    try:
        result = response_to_message(body, context)
    except GatewayError:
        return

    assert json.loads(json.dumps(result, allow_nan=False)) == result


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(MESSAGE_CASES), context=contexts, data=st.data())
def test_recorded_responses_with_odd_values_anywhere_give_a_json_message_or_a_gateway_error(
    case: str, context: RequestContext, data: st.DataObject
) -> None:
    body = json.loads((FIXTURES / f"{case}.response.json").read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        body = replace_somewhere(body, data)
    if not isinstance(body, dict):
        return

    try:
        result = response_to_message(body, context)
    except GatewayError:
        return

    assert json.loads(json.dumps(result, allow_nan=False)) == result
