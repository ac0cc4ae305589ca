"""StreamTranslator: Responses events in, Anthropic SSE frames out (protocol.md C.8, issue 5)."""

from __future__ import annotations

import itertools
import json
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.errors import GatewayTimeoutError
from streaming.translate.context import RequestContext
from streaming.translate.signature import open_signature
from streaming.translate.stream import _HANDLERS, StreamTranslator
from tests.unit.test_golden_fixtures import STREAM_CASES, parse_sse, upstream_events

KEY = "stream-test-key"
RESP_ID = "resp_abc123"
RS_ID = "rs_1"


def ctx(**overrides: Any) -> RequestContext:
    fields: dict[str, Any] = {
        "client_model": "claude-sonnet-4-6",
        "upstream_model": "gpt-5",
        "signing_key": KEY,
    }
    fields.update(overrides)
    return RequestContext(**fields)


def ev(type_: str, **fields: Any) -> dict[str, Any]:
    return {"event": type_, "data": {"type": type_, **fields}}


def created() -> dict[str, Any]:
    return ev(
        "response.created", response={"id": RESP_ID, "status": "in_progress", "output": [], "usage": None}
    )


def completed(status: str = "completed", reason: str | None = None, **usage: Any) -> dict[str, Any]:
    response = {
        "id": RESP_ID,
        "status": status,
        "incomplete_details": {"reason": reason} if reason else None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 5},
    }
    return ev("response.incomplete" if status == "incomplete" else "response.completed", response=response)


def message_added(oi: int) -> dict[str, Any]:
    item = {"id": f"msg_{oi}", "type": "message", "role": "assistant", "content": [], "status": "in_progress"}
    return ev("response.output_item.added", output_index=oi, item=item)


def text_delta(oi: int, delta: str, ci: int = 0) -> dict[str, Any]:
    return ev(
        "response.output_text.delta", output_index=oi, content_index=ci, item_id=f"msg_{oi}", delta=delta
    )


def message_done(oi: int, *texts: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": t, "annotations": []} for t in texts]
    item = {
        "id": f"msg_{oi}",
        "type": "message",
        "role": "assistant",
        "content": content,
        "status": "completed",
    }
    return ev("response.output_item.done", output_index=oi, item=item)


def call_item(oi: int, arguments: str = "", name: str = "get_weather") -> dict[str, Any]:
    return {
        "id": f"fc_{oi}",
        "type": "function_call",
        "call_id": f"call_{oi}",
        "name": name,
        "arguments": arguments,
    }


def call_added(oi: int, name: str = "get_weather") -> dict[str, Any]:
    return ev("response.output_item.added", output_index=oi, item=call_item(oi, name=name))


def args_delta(oi: int, delta: str) -> dict[str, Any]:
    return ev("response.function_call_arguments.delta", output_index=oi, item_id=f"fc_{oi}", delta=delta)


def args_done(oi: int, arguments: str) -> dict[str, Any]:
    return ev(
        "response.function_call_arguments.done", output_index=oi, item_id=f"fc_{oi}", arguments=arguments
    )


def call_done(oi: int, arguments: str, name: str = "get_weather") -> dict[str, Any]:
    return ev("response.output_item.done", output_index=oi, item=call_item(oi, arguments, name))


def reasoning_done(summary: list[str], encrypted: str | None = "enc-1") -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": RS_ID,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": t} for t in summary],
    }
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return ev("response.output_item.done", output_index=0, item=item)


def summary_delta(index: int, delta: str) -> dict[str, Any]:
    return ev(
        "response.reasoning_summary_text.delta",
        output_index=0,
        item_id=RS_ID,
        summary_index=index,
        delta=delta,
    )


def run(
    events: list[dict[str, Any]], context: RequestContext | None = None, *, eof: bool = True
) -> list[Any]:
    """Feed everything; return the emitted events as (name, data dict), checked for well-formedness."""
    translator = StreamTranslator(context or ctx())
    frames: list[bytes] = []
    for event in events:
        frames += translator.feed(event)
    if eof:
        frames += translator.finish()
    produced = [(e["event"], json.loads(e["data"])) for e in parse_sse(b"".join(frames).decode())]
    assert_well_formed(produced)
    return produced


def assert_well_formed(produced: list[tuple[str, dict[str, Any]]]) -> None:
    """The order the SDKs require: message_start first, contiguous indices, one open block, nothing after the end."""
    open_index: int | None = None
    next_index = 0
    ended = False
    for position, (name, data) in enumerate(produced):
        assert not ended, f"event after the end: {name}"
        assert data["type"] == name
        if position == 0:
            assert name in ("message_start", "error")
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = next_index, next_index + 1
        elif name in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index
            if name == "content_block_stop":
                open_index = None
        elif name == "message_delta":
            assert open_index is None
        elif name in ("message_stop", "error"):
            ended = True


def names(produced: list[Any]) -> list[str]:
    return [name for name, _ in produced]


def deltas(produced: list[Any], kind: str) -> list[str]:
    field = {"text_delta": "text", "input_json_delta": "partial_json", "thinking_delta": "thinking"}[kind]
    return [
        d["delta"][field] for n, d in produced if n == "content_block_delta" and d["delta"]["type"] == kind
    ]


def blocks(produced: list[Any]) -> list[dict[str, Any]]:
    return [d["content_block"] for n, d in produced if n == "content_block_start"]


def final_delta(produced: list[Any]) -> dict[str, Any]:
    return next(d for n, d in produced if n == "message_delta")


# -- message start and end --------------------------------------------------------------------------


def test_message_start_on_created_carries_the_skeleton_with_zero_usage() -> None:
    produced = run([created()], eof=False)

    assert produced == [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_abc123",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-6",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {
                        "input_tokens": 0,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": 0,
                        "output_tokens": 0,
                    },
                },
            },
        )
    ]


def test_stream_without_created_still_starts_with_message_start() -> None:
    produced = run([message_added(0), text_delta(0, "hi"), completed()])

    assert names(produced)[0] == "message_start"
    assert produced[0][1]["message"]["id"].startswith("msg_")
    assert deltas(produced, "text_delta") == ["hi"]


def test_started_turns_true_with_message_start() -> None:
    translator = StreamTranslator(ctx())
    assert not translator.started

    translator.feed(created())

    assert translator.started and not translator.done


def test_completed_ends_with_message_delta_and_message_stop() -> None:
    produced = run(
        [created(), completed(input_tokens=80, output_tokens=7, input_tokens_details={"cached_tokens": 64})]
    )

    assert names(produced)[-2:] == ["message_delta", "message_stop"]
    assert final_delta(produced) == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 16,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 64,
            "output_tokens": 7,
        },
    }


@pytest.mark.parametrize(
    ("reason", "stop_reason"),
    [
        ("max_output_tokens", "max_tokens"),
        ("content_filter", "refusal"),
        ("max_messages", "end_turn"),
        (None, "end_turn"),
    ],
)
def test_incomplete_response_maps_its_reason_to_a_stop_reason(reason: str | None, stop_reason: str) -> None:
    produced = run([created(), message_added(0), text_delta(0, "cut"), completed("incomplete", reason)])

    assert final_delta(produced)["delta"]["stop_reason"] == stop_reason


def test_done_after_terminal_and_later_events_produce_nothing() -> None:
    translator = StreamTranslator(ctx())
    for event in (created(), completed()):
        translator.feed(event)

    assert translator.done
    assert translator.feed(text_delta(0, "late")) == []
    assert translator.finish() == []


# -- errors -----------------------------------------------------------------------------------------


def test_eof_without_terminal_event_is_an_api_error() -> None:
    produced = run([created(), message_added(0), text_delta(0, "hi")])

    assert produced[-1] == (
        "error",
        {"type": "error", "error": {"type": "api_error", "message": "upstream stream ended unexpectedly"}},
    )
    assert "content_block_stop" not in names(produced)


def test_failed_response_mid_block_sends_only_the_error() -> None:
    failed = ev(
        "response.failed",
        response={"id": RESP_ID, "status": "failed", "error": {"code": "server_error", "message": "boom"}},
    )

    produced = run([created(), message_added(0), text_delta(0, "hi"), failed])

    assert names(produced) == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert produced[-1][1]["error"] == {"type": "api_error", "message": "boom"}


@pytest.mark.parametrize(
    "error_event",
    [
        ev(
            "error",
            error={"type": "tokens", "code": "rate_limit_exceeded", "message": "slow down", "param": None},
        ),
        ev("error", code="rate_limit_exceeded", message="slow down", param=None),
        ev("error", error={"type": "tokens", "message": "slow down"}, code="rate_limit_exceeded"),
    ],
    ids=["nested", "flat", "mixed"],
)
def test_error_event_fields_are_read_nested_first_then_flat(error_event: dict[str, Any]) -> None:
    produced = run([created(), error_event])

    assert produced[-1][1]["error"] == {"type": "rate_limit_error", "message": "slow down"}


UPSTREAM_KEY = "local-proxy-token-42"


@pytest.mark.parametrize(
    "failure",
    [
        ev("error", error={"type": "invalid_request_error", "message": f"bad key {UPSTREAM_KEY}"}),
        ev("error", code="server_error", message=f"bad key {UPSTREAM_KEY}", param=None),
        ev(
            "response.failed",
            response={"id": RESP_ID, "status": "failed", "error": {"message": f"bad key {UPSTREAM_KEY}"}},
        ),
    ],
    ids=["error-nested", "error-flat", "response.failed"],
)
def test_upstream_key_in_a_mid_stream_error_comes_out_redacted(failure: dict[str, Any]) -> None:
    translator = StreamTranslator(ctx(), secrets=(UPSTREAM_KEY,))
    frames = translator.feed(created()) + translator.feed(failure)

    assert UPSTREAM_KEY not in b"".join(frames).decode()
    assert json.loads(parse_sse(frames[-1].decode())[0]["data"])["error"]["message"] == "bad key [redacted]"


def test_error_before_any_other_event_sends_no_message_start() -> None:
    translator = StreamTranslator(ctx())

    frames = translator.feed(ev("error", code="server_is_overloaded", message="busy"))

    assert [e["event"] for e in parse_sse(b"".join(frames).decode())] == ["error"]
    assert not translator.started and translator.done
    assert translator.error is not None and translator.error.error_type == "overloaded_error"


@pytest.mark.parametrize("raw", ["{not json", "", "null"])
def test_malformed_event_data_is_an_api_error(raw: str) -> None:
    produced = run([created(), {"event": "response.output_text.delta", "data": raw}], eof=False)

    assert produced[-1][1]["error"]["type"] == "api_error"


def test_fail_sends_the_given_error_and_ends_the_stream() -> None:
    translator = StreamTranslator(ctx())
    translator.feed(created())

    frames = translator.fail(GatewayTimeoutError("too slow"))

    assert frames == [
        b'event: error\ndata: {"type":"error","error":{"type":"timeout_error","message":"too slow"}}\n\n'
    ]
    assert translator.done
    assert translator.feed(text_delta(0, "x")) == [] and translator.fail(GatewayTimeoutError()) == []


def test_error_frame_carries_the_request_id_when_given() -> None:
    translator = StreamTranslator(ctx(), request_id="req_1")

    frame = translator.fail(GatewayTimeoutError("too slow"))[0]

    assert json.loads(parse_sse(frame.decode())[0]["data"])["request_id"] == "req_1"


@pytest.mark.parametrize(
    "event",
    [
        ev("response.web_search_call.searching", output_index=0),
        ev("keepalive"),
        {"event": "ping", "data": {"foo": 1}},
        ev("response.output_text.annotation.added", output_index=0, content_index=0),
    ],
)
def test_unknown_and_ping_like_events_produce_nothing(event: dict[str, Any]) -> None:
    translator = StreamTranslator(ctx())
    translator.feed(created())

    assert translator.feed(event) == []


# -- text -------------------------------------------------------------------------------------------


def test_text_block_opens_on_the_first_delta_without_content_part_added() -> None:
    produced = run(
        [
            created(),
            message_added(0),
            text_delta(0, "Hel"),
            text_delta(0, "lo"),
            message_done(0, "Hello"),
            completed(),
        ]
    )

    assert blocks(produced) == [{"type": "text", "text": ""}]
    assert deltas(produced, "text_delta") == ["Hel", "lo"]


def test_text_only_in_done_events_is_emitted_once() -> None:
    produced = run([created(), message_added(0), message_done(0, "Whole answer"), completed()])

    assert deltas(produced, "text_delta") == ["Whole answer"]


def test_done_text_longer_than_the_deltas_emits_the_remainder() -> None:
    done = ev("response.output_text.done", output_index=0, content_index=0, text="Hello world")

    produced = run(
        [
            created(),
            message_added(0),
            text_delta(0, "Hello"),
            done,
            message_done(0, "Hello world"),
            completed(),
        ]
    )

    assert deltas(produced, "text_delta") == ["Hello", " world"]


def test_empty_text_part_leaves_no_empty_block() -> None:
    part_added = ev(
        "response.content_part.added",
        output_index=0,
        content_index=0,
        part={"type": "output_text", "text": ""},
    )

    produced = run([created(), message_added(0), part_added, message_done(0, ""), completed()])

    assert blocks(produced) == []


def test_two_content_parts_become_two_text_blocks() -> None:
    produced = run(
        [
            created(),
            message_added(0),
            text_delta(0, "a", ci=0),
            text_delta(0, "b", ci=1),
            message_done(0, "a", "b"),
            completed(),
        ]
    )

    assert blocks(produced) == [{"type": "text", "text": ""}, {"type": "text", "text": ""}]


def test_refusal_streams_as_text_and_stops_with_refusal() -> None:
    refusal = ev("response.refusal.delta", output_index=0, content_index=0, delta="No.")

    produced = run([created(), message_added(0), refusal, completed()])

    assert deltas(produced, "text_delta") == ["No."]
    assert final_delta(produced)["delta"]["stop_reason"] == "refusal"


def test_multibyte_text_is_written_as_raw_utf8() -> None:
    translator = StreamTranslator(ctx())
    translator.feed(created())

    frames = b"".join(translator.feed(text_delta(0, "Grüße 👋🏽")))

    assert "Grüße 👋🏽".encode() in frames


# -- tool calls -------------------------------------------------------------------------------------


def test_tool_use_start_has_empty_input_and_the_client_tool_name() -> None:
    long_name = "mcp__server__a_very_long_tool_name"
    context = ctx(tool_names={"short_abc": long_name})

    produced = run(
        [
            created(),
            call_added(0, "short_abc"),
            args_delta(0, "{}"),
            call_done(0, "{}", "short_abc"),
            completed(),
        ],
        context,
    )

    assert blocks(produced) == [{"type": "tool_use", "id": "toolu_call_0", "name": long_name, "input": {}}]
    assert final_delta(produced)["delta"]["stop_reason"] == "tool_use"


def test_arguments_only_in_arguments_done_become_one_input_json_delta() -> None:
    arguments = '{"city":"Paris"}'

    produced = run([created(), call_added(0), args_done(0, arguments), call_done(0, arguments), completed()])

    assert deltas(produced, "input_json_delta") == [arguments]


def test_arguments_only_in_the_finished_item_become_one_input_json_delta() -> None:
    arguments = '{"city":"Paris"}'

    produced = run([created(), call_done(0, arguments), completed()])

    assert blocks(produced) == [
        {"type": "tool_use", "id": "toolu_call_0", "name": "get_weather", "input": {}}
    ]
    assert deltas(produced, "input_json_delta") == [arguments]


def test_empty_arguments_send_no_input_json_delta() -> None:
    produced = run([created(), call_added(0), call_done(0, ""), completed()])

    assert deltas(produced, "input_json_delta") == []


def test_items_only_in_the_terminal_response_are_still_streamed() -> None:
    terminal = completed()
    terminal["data"]["response"]["output"] = [
        {"type": "message", "content": [{"type": "output_text", "text": "Hi"}]},
        call_item(1, '{"a":1}'),
    ]

    produced = run([created(), terminal])

    assert deltas(produced, "text_delta") == ["Hi"]
    assert deltas(produced, "input_json_delta") == ['{"a":1}']


def test_interleaved_items_keep_indices_contiguous_and_arguments_whole() -> None:
    produced = run(
        [
            created(),
            call_added(0, "first"),
            call_added(1, "second"),
            args_delta(1, '{"b":'),
            args_delta(0, '{"a":'),
            args_delta(1, "2}"),
            args_delta(0, "1}"),
            call_done(1, '{"b":2}', "second"),
            call_done(0, '{"a":1}', "first"),
            completed(),
        ]
    )

    assert [b["name"] for b in blocks(produced)] == ["first", "second"]
    assert deltas(produced, "input_json_delta") == ['{"a":', "1}", '{"b":', "2}"]


def test_a_late_event_for_a_finished_item_does_not_hold_back_later_items() -> None:
    translator = StreamTranslator(ctx())
    for event in (created(), message_added(0), text_delta(0, "a"), message_done(0, "a")):
        translator.feed(event)
    translator.feed(ev("response.output_text.done", output_index=0, content_index=0, text="a"))

    frames = b"".join(translator.feed(call_added(1)))

    assert b"content_block_start" in frames


@settings(max_examples=60, deadline=None)
@given(
    arguments=st.dictionaries(
        st.text(min_size=1), st.text(max_size=400) | st.integers() | st.booleans() | st.none(), max_size=8
    ).map(lambda d: json.dumps(d, ensure_ascii=False)),
    cuts=st.lists(st.integers(min_value=0), max_size=30),
)
def test_partial_json_concatenates_to_exactly_the_upstream_arguments(arguments: str, cuts: list[int]) -> None:
    points = sorted({c % (len(arguments) + 1) for c in cuts} | {0, len(arguments)})
    pieces = [arguments[a:b] for a, b in itertools.pairwise(points)]

    produced = run(
        [created(), call_added(0), *(args_delta(0, p) for p in pieces), call_done(0, arguments), completed()]
    )

    assert "".join(deltas(produced, "input_json_delta")) == arguments
    assert json.loads("".join(deltas(produced, "input_json_delta"))) == json.loads(arguments)


def test_tool_call_fixture_partial_json_concatenates_to_the_upstream_arguments() -> None:
    events = upstream_events("tool_call")
    upstream = next(
        e["data"]["arguments"] for e in events if e["data"]["type"] == "response.function_call_arguments.done"
    )

    produced = run(events)

    assert "".join(deltas(produced, "input_json_delta")) == upstream


# -- reasoning --------------------------------------------------------------------------------------


def reasoning_stream(
    *, encrypted: str | None = "enc-1", summary: tuple[str, ...] = ("one", "two")
) -> list[dict[str, Any]]:
    events = [
        created(),
        ev(
            "response.output_item.added",
            output_index=0,
            item={"id": RS_ID, "type": "reasoning", "summary": []},
        ),
    ]
    for index, text in enumerate(summary):
        events.append(summary_delta(index, text))
    events += [
        reasoning_done(list(summary), encrypted),
        message_added(1),
        text_delta(1, "answer"),
        message_done(1, "answer"),
        completed(),
    ]
    return events


def test_reasoning_is_dropped_when_thinking_is_off() -> None:
    produced = run(reasoning_stream())

    assert blocks(produced) == [{"type": "text", "text": ""}]


def test_reasoning_summary_parts_stream_as_one_thinking_block_with_a_signature() -> None:
    produced = run(reasoning_stream(), ctx(thinking=True))

    assert blocks(produced)[0] == {"type": "thinking", "thinking": "", "signature": ""}
    assert deltas(produced, "thinking_delta") == ["one", "\n\n", "two"]
    signature_event = next(
        i
        for i, (n, d) in enumerate(produced)
        if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"
    )
    assert produced[signature_event + 1] == ("content_block_stop", {"type": "content_block_stop", "index": 0})
    assert open_signature(produced[signature_event][1]["delta"]["signature"], KEY) == (RS_ID, "enc-1")


def test_omitted_display_sends_start_signature_and_stop_only() -> None:
    produced = run(reasoning_stream(), ctx(thinking=True, thinking_display="omitted"))

    assert deltas(produced, "thinking_delta") == []
    assert names(produced)[1:4] == ["content_block_start", "content_block_delta", "content_block_stop"]
    assert produced[2][1]["delta"]["type"] == "signature_delta"


def test_reasoning_with_encrypted_content_but_no_summary_is_redacted_thinking() -> None:
    produced = run(reasoning_stream(summary=()), ctx(thinking=True))

    first = blocks(produced)[0]
    assert first["type"] == "redacted_thinking"
    assert open_signature(first["data"], KEY) == (RS_ID, "enc-1")
    assert names(produced)[1:3] == ["content_block_start", "content_block_stop"]


def test_reasoning_without_encrypted_content_sends_no_signature() -> None:
    produced = run(reasoning_stream(encrypted=None), ctx(thinking=True))

    assert deltas(produced, "thinking_delta") == ["one", "\n\n", "two"]
    assert not any(d["delta"]["type"] == "signature_delta" for n, d in produced if n == "content_block_delta")


def test_reasoning_without_text_or_encrypted_content_leaves_no_block() -> None:
    produced = run(reasoning_stream(encrypted=None, summary=()), ctx(thinking=True))

    assert [b["type"] for b in blocks(produced)] == ["text"]


# -- stop sequences ---------------------------------------------------------------------------------


def test_stop_sequence_inside_a_delta_ends_the_message() -> None:
    translator = StreamTranslator(ctx(stop_sequences=("STOP",)))
    frames: list[bytes] = []
    for event in (created(), message_added(0), text_delta(0, "Hello STOP world")):
        frames += translator.feed(event)

    produced = [(e["event"], json.loads(e["data"])) for e in parse_sse(b"".join(frames).decode())]
    assert_well_formed(produced)
    assert translator.done
    assert deltas(produced, "text_delta") == ["Hello "]
    assert final_delta(produced)["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "STOP"}
    assert names(produced)[-1] == "message_stop"


def test_stop_sequence_across_deltas_holds_back_only_the_possible_prefix() -> None:
    produced = run(
        [created(), message_added(0), text_delta(0, "abc ST"), text_delta(0, "OP def"), completed()],
        ctx(stop_sequences=("STOP",)),
        eof=False,
    )

    assert deltas(produced, "text_delta") == ["abc "]
    assert final_delta(produced)["delta"]["stop_sequence"] == "STOP"


def test_partial_stop_sequence_is_released_when_it_does_not_match() -> None:
    produced = run(
        [
            created(),
            message_added(0),
            text_delta(0, "abc ST"),
            text_delta(0, "ART"),
            message_done(0, "abc START"),
            completed(),
        ],
        ctx(stop_sequences=("STOP",)),
    )

    assert "".join(deltas(produced, "text_delta")) == "abc START"
    assert deltas(produced, "text_delta")[0] == "abc "
    assert final_delta(produced)["delta"]["stop_reason"] == "end_turn"


def test_partial_stop_sequence_at_the_end_of_the_block_is_released() -> None:
    produced = run(
        [created(), message_added(0), text_delta(0, "abc ST"), message_done(0, "abc ST"), completed()],
        ctx(stop_sequences=("STOP",)),
    )

    assert "".join(deltas(produced, "text_delta")) == "abc ST"


def test_stop_sequence_usage_is_an_estimate_from_streamed_characters() -> None:
    produced = run(
        [created(), message_added(0), text_delta(0, "12345678STOP")], ctx(stop_sequences=("STOP",)), eof=False
    )

    assert final_delta(produced)["usage"] == {
        "input_tokens": 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 2,
    }


def test_stop_sequence_at_the_start_of_a_block_leaves_no_empty_block() -> None:
    produced = run(
        [created(), message_added(0), text_delta(0, "STOP")], ctx(stop_sequences=("STOP",)), eof=False
    )

    assert blocks(produced) == []
    assert names(produced) == ["message_start", "message_delta", "message_stop"]


def test_a_huge_stop_sequence_over_many_text_parts_and_deltas_uses_bounded_memory() -> None:
    sequence = "a" * 100_000
    events = [created(), message_added(0)]
    for part in range(5):
        events += [text_delta(0, "a" * 1_000, ci=part) for _ in range(99)] + [text_delta(0, "b", ci=part)]
    events += [text_delta(0, "a" * 1_000, ci=5) for _ in range(100)]

    tracemalloc.start()
    try:
        produced = run(events, ctx(stop_sequences=(sequence,)), eof=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 10 * 1024 * 1024
    assert final_delta(produced)["delta"]["stop_sequence"] == sequence
    assert len(blocks(produced)) == 5


def test_stop_sequences_do_not_apply_to_tool_arguments() -> None:
    arguments = '{"text":"STOP"}'

    produced = run(
        [created(), call_added(0), args_delta(0, arguments), call_done(0, arguments), completed()],
        ctx(stop_sequences=("STOP",)),
    )

    assert deltas(produced, "input_json_delta") == [arguments]
    assert final_delta(produced)["delta"]["stop_reason"] == "tool_use"


def test_reasoning_cut_short_gets_its_signature_from_the_terminal_response() -> None:
    item = reasoning_done(["one"])["data"]["item"]
    terminal = completed("incomplete", "max_output_tokens")
    terminal["data"]["response"]["output"] = [item]

    produced = run(
        [
            created(),
            ev("response.output_item.added", output_index=0, item={"id": RS_ID, "type": "reasoning"}),
            summary_delta(0, "one"),
            terminal,
        ],
        ctx(thinking=True),
    )

    signatures = [
        d["delta"]["signature"]
        for n, d in produced
        if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"
    ]
    assert deltas(produced, "thinking_delta") == ["one"]
    assert [open_signature(s, KEY) for s in signatures] == [(RS_ID, "enc-1")]
    assert final_delta(produced)["delta"]["stop_reason"] == "max_tokens"


def test_text_cut_short_is_completed_from_the_terminal_response_once() -> None:
    terminal = completed("incomplete", "max_output_tokens")
    terminal["data"]["response"]["output"] = [message_done(0, "Hello world")["data"]["item"]]

    produced = run([created(), message_added(0), text_delta(0, "Hello"), terminal])

    assert deltas(produced, "text_delta") == ["Hello", " world"]


def test_deltas_without_content_index_are_not_repeated_by_the_finished_item() -> None:
    bare_delta = ev("response.output_text.delta", output_index=0, delta="Hi there")

    produced = run([created(), bare_delta, message_done(0, "Hi there"), completed()])

    assert deltas(produced, "text_delta") == ["Hi there"]


def test_events_with_a_non_integer_output_index_do_not_break_the_stream() -> None:
    odd = ev("response.output_text.delta", output_index="0", content_index=0, delta="x")

    produced = run([created(), odd, call_added(1), call_done(1, "{}"), completed()])

    assert deltas(produced, "text_delta") == ["x"]
    assert [b["type"] for b in blocks(produced)] == ["text", "tool_use"]


def test_upstream_is_finished_after_its_terminal_event() -> None:
    translator = StreamTranslator(ctx())
    for event in [created(), message_added(0), text_delta(0, "Hi")]:
        translator.feed(event)
    assert not translator.upstream_finished
    translator.feed(completed())
    assert translator.done and translator.upstream_finished


def test_upstream_is_not_finished_when_a_stop_sequence_ends_the_client_stream() -> None:
    translator = StreamTranslator(ctx(stop_sequences=("STOP",)))
    for event in [created(), message_added(0), text_delta(0, "Hi STOP more")]:
        translator.feed(event)
    assert translator.done and not translator.upstream_finished


# -- odd upstream values ----------------------------------------------------------------------------

ANTHROPIC_EVENTS = {
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
}
UPSTREAM_TYPES = sorted(_HANDLERS)
FIELDS = [
    "type", "id", "call_id", "name", "arguments", "content", "summary", "text", "refusal", "delta",
    "encrypted_content", "status", "output", "usage", "input_tokens", "output_tokens", "cached_tokens",
    "input_tokens_details", "incomplete_details", "reason", "error", "code", "message", "param",
    "output_index", "content_index", "summary_index", "item_id", "part", "item", "response",
    "action", "query", "queries", "sources", "url", "title", "annotation", "annotations",
    "annotation_index", "start_index", "end_index",
]  # fmt: skip
TYPES = [*UPSTREAM_TYPES, "message", "function_call", "reasoning", "output_text", "refusal"]
TYPES += ["summary_text", "reasoning_text", "completed", "incomplete", "failed"]
TYPES += ["web_search_call", "search", "open_page", "url", "url_citation"]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-2, max_value=3)
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["\ud800", "a\udfffb"])  # lone surrogates: valid JSON escapes, no UTF-8
    | st.sampled_from(TYPES)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5)
        | st.fixed_dictionaries({"type": st.sampled_from(TYPES)}, optional=dict.fromkeys(FIELDS[1:], inner))
    ),
    max_leaves=8,
)
upstream_events_strategy = st.builds(
    lambda kind, fields, name: {"event": name, "data": {**fields, "type": kind}},
    st.sampled_from(UPSTREAM_TYPES) | json_scalars,
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6),
    st.sampled_from(UPSTREAM_TYPES),
) | st.builds(lambda data: {"event": "message", "data": data}, json_values)
contexts = st.builds(
    ctx,
    thinking=st.booleans(),
    thinking_display=st.sampled_from(["summarized", "omitted"]),
    stop_sequences=st.sampled_from([(), ("a",), ("STOP", "ab")]),
    tool_names=st.just({"short": "a_long_client_name"}),
    web_search=st.booleans(),
)


def strict_json(text: str) -> Any:
    def reject(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=reject)


ODD_INDICES = [[], [0], {}, {"a": 1}, True, False, 1.0, "0", None]


@pytest.mark.parametrize("odd", ODD_INDICES, ids=repr)
def test_text_events_with_an_odd_output_or_content_index_count_it_as_absent(odd: Any) -> None:
    delta = ev("response.output_text.delta", output_index=odd, content_index=odd, delta="Hi")
    done = ev("response.output_text.done", output_index=odd, content_index=odd, text="Hi there")

    produced = run([created(), delta, done, completed()])

    assert deltas(produced, "text_delta") == ["Hi", " there"]
    assert final_delta(produced)["delta"]["stop_reason"] == "end_turn"


@pytest.mark.parametrize("odd", ODD_INDICES, ids=repr)
def test_function_call_events_with_an_odd_output_index_count_it_as_absent(odd: Any) -> None:
    added = ev("response.output_item.added", output_index=odd, item=call_item(0))
    arguments = ev("response.function_call_arguments.delta", output_index=odd, delta='{"a":1}')
    done = ev("response.output_item.done", output_index=odd, item=call_item(0, '{"a":1}'))

    produced = run([created(), added, arguments, done, completed()])

    assert deltas(produced, "input_json_delta") == ['{"a":1}']
    assert final_delta(produced)["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize("odd", ODD_INDICES, ids=repr)
def test_reasoning_events_with_an_odd_summary_or_output_index_count_it_as_absent(odd: Any) -> None:
    delta = ev("response.reasoning_summary_text.delta", output_index=odd, summary_index=odd, delta="one")
    done = ev("response.reasoning_summary_text.done", output_index=odd, summary_index=odd, text="one!")

    produced = run([created(), delta, done, completed()], ctx(thinking=True))

    assert deltas(produced, "thinking_delta") == ["one", "!"]


def test_a_boolean_output_index_is_not_taken_for_item_one() -> None:
    # True == 1 in Python: used as a key, it would join item 1's events.
    stray = ev("response.output_text.delta", output_index=True, content_index=0, delta="stray ")

    produced = run([created(), text_delta(1, "one"), stray, message_done(1, "one"), completed()])

    assert deltas(produced, "text_delta") == ["one", "stray "]
    assert [b["type"] for b in blocks(produced)] == ["text", "text"]


@pytest.mark.parametrize("name", [{"a": 1}, ["get_weather"], 42, None])
def test_a_function_call_whose_name_is_not_a_string_gets_an_empty_tool_name(name: Any) -> None:
    item = {**call_item(0, "{}"), "name": name}

    produced = run(
        [
            created(),
            ev("response.output_item.added", output_index=0, item=item),
            ev("response.output_item.done", output_index=0, item=item),
            completed(),
        ],
        ctx(tool_names={"short": "client_name"}),
    )

    assert [(b["type"], b["name"]) for b in blocks(produced)] == [("tool_use", "")]


def test_encrypted_reasoning_with_a_lone_surrogate_still_streams_a_signature_that_opens() -> None:
    produced = run(
        [created(), reasoning_done(["one"], encrypted="enc\ud800"), completed()], ctx(thinking=True)
    )

    signatures = [
        d["delta"]["signature"]
        for n, d in produced
        if n == "content_block_delta" and d["delta"]["type"] == "signature_delta"
    ]
    assert [open_signature(s, KEY) for s in signatures] == [(RS_ID, "enc\ud800")]


def replace_somewhere(node: Any, data: st.DataObject) -> Any:
    """A copy of ``node`` with one value, at a drawn depth and key, replaced by drawn JSON."""
    if isinstance(node, dict) and node and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(node)))
        return {**node, key: replace_somewhere(node[key], data)}
    if isinstance(node, list) and node and data.draw(st.booleans()):
        position = data.draw(st.integers(min_value=0, max_value=len(node) - 1))
        return [*node[:position], replace_somewhere(node[position], data), *node[position + 1 :]]
    return data.draw(json_values)


def translate_all(events: list[dict[str, Any]], context: RequestContext) -> list[tuple[str, Any]]:
    """Every frame, parsed as strict JSON (no NaN), for an upstream stream ending in EOF."""
    translator = StreamTranslator(context)
    frames: list[bytes] = []
    for event in events:
        frames += translator.feed(event)
    frames += translator.finish()
    return [(e["event"], strict_json(e["data"])) for e in parse_sse(b"".join(frames).decode())]


@settings(max_examples=100, deadline=None)
@given(events=st.lists(upstream_events_strategy, max_size=10), context=contexts)
def test_any_upstream_event_values_give_well_formed_anthropic_frames_and_never_raise(
    events: list[dict[str, Any]], context: RequestContext
) -> None:
    produced = translate_all(events, context)

    assert {name for name, _ in produced} <= ANTHROPIC_EVENTS
    assert_well_formed(produced)


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(STREAM_CASES), context=contexts, data=st.data())
def test_recorded_streams_with_odd_values_anywhere_give_well_formed_frames_and_never_raise(
    case: str, context: RequestContext, data: st.DataObject
) -> None:
    events = upstream_events(case)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(events) - 1))
        events[position] = {**events[position], "data": replace_somewhere(events[position]["data"], data)}

    produced = translate_all(events, context)

    assert {name for name, _ in produced} <= ANTHROPIC_EVENTS
    assert_well_formed(produced)
