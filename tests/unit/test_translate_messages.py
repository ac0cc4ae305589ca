"""Anthropic messages and content blocks -> Responses input items (translate.messages, translate.content)."""

from __future__ import annotations

from typing import Any

import pytest

from streaming.translate.context import TargetModel
from streaming.translate.request import translate_request
from streaming.translate.signature import mint_signature

REASONING = TargetModel("claude-x", "gpt-5", reasoning=True, max_output_tokens=128_000)
PLAIN = TargetModel("claude-x", "gpt-4.1", reasoning=False, max_output_tokens=32_768)
KEY = "signing-key"
SIGNATURE = mint_signature("rs_abc", "gAAAA-encrypted", KEY)


def items(*messages: dict[str, Any], route: TargetModel = REASONING) -> list[dict[str, Any]]:
    body = {"model": "claude-x", "max_tokens": 1024, "messages": list(messages)}
    return [dict(item) for item in translate_request(body, route, signing_key=KEY).payload["input"]]


def user(*content: Any) -> dict[str, Any]:
    return {
        "role": "user",
        "content": content[0] if len(content) == 1 and isinstance(content[0], str) else list(content),
    }


def assistant(*content: Any) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": content[0] if len(content) == 1 and isinstance(content[0], str) else list(content),
    }


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def tool_use(tool_id: str = "toolu_01A", name: str = "get_weather", **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": arguments}


def tool_result(content: object = None, tool_id: str = "toolu_01A", **extra: Any) -> dict[str, Any]:
    block = {"type": "tool_result", "tool_use_id": tool_id, **extra}
    return block if content is None else {**block, "content": content}


def in_text(value: str) -> dict[str, Any]:
    return {"type": "input_text", "text": value}


def out_text(value: str) -> dict[str, Any]:
    return {"type": "output_text", "text": value, "annotations": []}


def user_item(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": list(parts)}


def assistant_item(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": list(parts)}


IMAGE_PNG = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"}}
IMAGE_PART = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0K", "detail": "auto"}
PDF = {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}
PDF_URL = "data:application/pdf;base64,JVBERi0x"


# --- user content -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (user("Hello"), [user_item(in_text("Hello"))]),
        (
            user(text("a", cache_control={"type": "ephemeral"}), text("b")),
            [user_item(in_text("a"), in_text("b"))],
        ),
        (user(text(""), text("b")), [user_item(in_text("b"))]),
        (user(""), []),
        (user(IMAGE_PNG), [user_item(IMAGE_PART)]),
        (
            user({"type": "image", "source": {**IMAGE_PNG["source"], "data": "iVBO\r\nRw0K"}}),
            [user_item(IMAGE_PART)],
        ),
        (
            user({"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}}),
            [user_item({"type": "input_image", "image_url": "https://x.test/a.jpg", "detail": "auto"})],
        ),
        (
            user(
                {
                    "type": "search_result",
                    "title": "T",
                    "source": "https://s",
                    "content": [text("a"), text("b")],
                }
            ),
            [user_item(in_text("T\nSource: https://s\n\na\n\nb"))],
        ),
    ],
)
def test_user_content_becomes_input_parts(message: dict[str, Any], expected: list[dict[str, Any]]) -> None:
    assert items(message) == expected


@pytest.mark.parametrize(
    ("document", "parts"),
    [
        ({"source": PDF}, [{"type": "input_file", "file_data": PDF_URL, "filename": "document.pdf"}]),
        (
            {"source": PDF, "title": "Q3 report"},
            [in_text("Q3 report"), {"type": "input_file", "file_data": PDF_URL, "filename": "Q3 report.pdf"}],
        ),
        (
            {"source": PDF, "title": "a/b.PDF"},
            [in_text("a/b.PDF"), {"type": "input_file", "file_data": PDF_URL, "filename": "a_b.PDF"}],
        ),
        (
            {"source": PDF, "context": "From finance."},
            [
                in_text("From finance."),
                {"type": "input_file", "file_data": PDF_URL, "filename": "document.pdf"},
            ],
        ),
        (
            {"source": {"type": "url", "url": "https://x.test/a.pdf"}},
            [{"type": "input_file", "file_url": "https://x.test/a.pdf"}],
        ),
        ({"source": {"type": "text", "media_type": "text/plain", "data": "Body."}}, [in_text("Body.")]),
        (
            {
                "source": {"type": "text", "media_type": "text/plain", "data": "Body."},
                "title": "T",
                "context": "C",
            },
            [in_text("T\nC\n\nBody.")],
        ),
        ({"source": {"type": "content", "content": "Inline."}}, [in_text("Inline.")]),
        ({"source": {"type": "content", "content": [text("a"), IMAGE_PNG]}}, [in_text("a"), IMAGE_PART]),
        (
            {"source": {**PDF, "data": "JVBE\nRi0x\n"}},
            [{"type": "input_file", "file_data": PDF_URL, "filename": "document.pdf"}],
        ),
    ],
)
def test_documents_become_files_or_text(document: dict[str, Any], parts: list[dict[str, Any]]) -> None:
    assert items(user({"type": "document", **document})) == [user_item(*parts)]


# --- system messages in the conversation -----------------------------------------------------------------------


def test_system_message_becomes_a_developer_message_in_place() -> None:
    system = {
        "role": "system",
        "content": "Env: linux",
        "output_config": {"effort": "medium"},
        "clear_at": "never",
    }

    assert items(user("hi"), system, assistant("ok"), user("go")) == [
        user_item(in_text("hi")),
        {"type": "message", "role": "developer", "content": [in_text("Env: linux")]},
        assistant_item(out_text("ok")),
        user_item(in_text("go")),
    ]


def test_system_message_may_be_the_last_message_and_hold_blocks() -> None:
    system = {
        "role": "system",
        "content": [text("cwd: /w", cache_control={"type": "ephemeral"}), text("os: linux")],
    }

    assert items(user("hi"), system)[-1] == {
        "type": "message",
        "role": "developer",
        "content": [in_text("cwd: /w"), in_text("os: linux")],
    }


def test_system_message_with_only_output_config_adds_nothing() -> None:
    assert items(user("hi"), {"role": "system", "output_config": {"effort": "low"}}) == [
        user_item(in_text("hi"))
    ]


# --- assistant turns, tool use and tool results ------------------------------------------------------------------


def test_assistant_text_uses_output_text_parts() -> None:
    assert items(user("hi"), assistant("Hello!"), user("bye"))[1] == assistant_item(out_text("Hello!"))


def test_tool_use_follows_the_text_before_it_in_block_order() -> None:
    turn = assistant(
        text("Checking."), tool_use(city="Paris"), text("And more."), tool_use("toolu_02B", city="Rome")
    )

    assert items(user("weather?"), turn)[1:] == [
        assistant_item(out_text("Checking.")),
        {"type": "function_call", "call_id": "01A", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        assistant_item(out_text("And more.")),
        {"type": "function_call", "call_id": "02B", "name": "get_weather", "arguments": '{"city":"Rome"}'},
    ]


def test_tool_arguments_are_compact_json_keeping_unicode() -> None:
    (call,) = items(user("q"), assistant(tool_use(city="Zürich", n=9007199254740993)))[1:]

    assert call["arguments"] == '{"city":"Zürich","n":9007199254740993}'


def test_tool_results_come_first_with_the_same_call_id() -> None:
    result = user(text("Now summarise."), tool_result("18°C", cache_control={"type": "ephemeral"}))

    assert items(user("q"), assistant(tool_use()), result)[2:] == [
        {"type": "function_call_output", "call_id": "01A", "output": "18°C"},
        user_item(in_text("Now summarise.")),
    ]


def test_ids_without_the_toolu_prefix_pass_verbatim_on_both_sides() -> None:
    converted = items(user("q"), assistant(tool_use("call_xyz")), user(tool_result("ok", tool_id="call_xyz")))

    assert converted[1]["call_id"] == converted[2]["call_id"] == "call_xyz"


@pytest.mark.parametrize(
    ("content", "extra", "output"),
    [
        ("18°C", {}, "18°C"),
        (None, {}, ""),
        ("", {}, ""),
        ([], {}, ""),
        ([text("a"), text("b")], {}, "a\n\nb"),
        ("boom", {"is_error": True}, "Error: boom"),
        ([text("boom")], {"is_error": True}, "Error: boom"),
        (None, {"is_error": True}, "Error:"),
        ("fine", {"is_error": False}, "fine"),
        ([{"type": "tool_reference", "tool_name": "Write"}], {}, "Tool 'Write' is now available."),
        (
            [{"type": "search_result", "title": "T", "source": "s", "content": [text("x")]}],
            {},
            "T\nSource: s\n\nx",
        ),
        ([{"type": "document", "source": {"type": "text", "data": "doc"}}], {}, "doc"),
    ],
)
def test_text_only_tool_results_become_a_string(content: object, extra: dict[str, Any], output: str) -> None:
    converted = items(user("q"), assistant(tool_use()), user(tool_result(content, **extra)))

    assert converted[2] == {"type": "function_call_output", "call_id": "01A", "output": output}


@pytest.mark.parametrize(
    ("content", "extra", "output"),
    [
        ([text("Screenshot:"), IMAGE_PNG], {}, [in_text("Screenshot:"), IMAGE_PART]),
        ([IMAGE_PNG], {"is_error": True}, [in_text("Error:"), IMAGE_PART]),
        (
            [{"type": "document", "source": PDF}],
            {},
            [{"type": "input_file", "file_data": PDF_URL, "filename": "document.pdf"}],
        ),
    ],
)
def test_tool_results_with_images_or_files_keep_them_as_parts(
    content: object, extra: dict[str, Any], output: list[dict[str, Any]]
) -> None:
    converted = items(user("q"), assistant(tool_use()), user(tool_result(content, **extra)))

    assert converted[2]["output"] == output


def test_tool_names_in_history_are_shortened_like_the_tool_definitions() -> None:
    name = "mcp__server__" + "t" * 80
    body = {"model": "claude-x", "max_tokens": 1024, "messages": [user("q"), assistant(tool_use(name=name))]}

    translated = translate_request(body, REASONING, signing_key=KEY)

    short = translated.payload["input"][1]["name"]
    assert translated.context.tool_names == {short: name}


# --- thinking round trips ---------------------------------------------------------------------------------------


def test_signed_thinking_becomes_a_reasoning_item_before_the_turn() -> None:
    turn = assistant({"type": "thinking", "thinking": "Let me look.", "signature": SIGNATURE}, text("Sunny."))

    assert items(user("q"), turn)[1:] == [
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "Let me look."}],
            "encrypted_content": "gAAAA-encrypted",
        },
        assistant_item(out_text("Sunny.")),
    ]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "thinking", "thinking": "", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": SIGNATURE},
    ],
)
def test_omitted_or_redacted_thinking_round_trips_with_an_empty_summary(block: dict[str, Any]) -> None:
    assert items(user("q"), assistant(block, tool_use()))[1] == {
        "type": "reasoning",
        "summary": [],
        "encrypted_content": "gAAAA-encrypted",
    }


def test_interleaved_thinking_keeps_its_place_between_tool_calls() -> None:
    second = mint_signature("rs_def", "enc-2", KEY)
    turn = assistant(
        {"type": "thinking", "thinking": "one", "signature": SIGNATURE},
        tool_use(),
        {"type": "thinking", "thinking": "two", "signature": second},
        tool_use("toolu_02B"),
    )

    assert [item["type"] for item in items(user("q"), turn)[1:]] == [
        "reasoning",
        "function_call",
        "reasoning",
        "function_call",
    ]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "thinking", "thinking": "claude", "signature": "EqQBCkYIBxgCKkB-real-claude-signature"},
        {"type": "thinking", "thinking": "forged", "signature": mint_signature("rs_x", "enc", "other-key")},
        {"type": "thinking", "thinking": "tampered", "signature": SIGNATURE[:-2] + "xx"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
    ],
)
def test_thinking_the_gateway_did_not_sign_is_dropped(block: dict[str, Any]) -> None:
    assert items(user("q"), assistant(block, text("ok"))) == [
        user_item(in_text("q")),
        assistant_item(out_text("ok")),
    ]


def test_reasoning_minted_for_the_same_upstream_model_round_trips() -> None:
    bound = mint_signature("rs_abc", "gAAAA-encrypted", KEY, model="gpt-5")
    turn = assistant({"type": "thinking", "thinking": "", "signature": bound}, text("ok"))

    assert items(user("q"), turn)[1]["encrypted_content"] == "gAAAA-encrypted"


def test_reasoning_minted_for_another_upstream_model_is_dropped() -> None:
    """The conversation moved to another model (a new route): it could not decrypt the old reasoning."""
    bound = mint_signature("rs_abc", "gAAAA-encrypted", KEY, model="gpt-5-mini")
    turn = assistant({"type": "thinking", "thinking": "", "signature": bound}, text("ok"))

    assert [item["type"] for item in items(user("q"), turn)] == ["message", "message"]


def test_reasoning_is_not_sent_to_a_non_reasoning_model() -> None:
    turn = assistant({"type": "thinking", "thinking": "t", "signature": SIGNATURE}, text("ok"))

    assert [item["type"] for item in items(user("q"), turn, route=PLAIN)] == ["message", "message"]


# --- history from server tools ----------------------------------------------------------------------------------


def test_web_search_history_reads_as_the_query_and_each_results_title_and_url() -> None:
    turn = assistant(
        {
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "web_search",
            "input": {"query": "django async"},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": [
                {
                    "type": "web_search_result",
                    "url": "https://a.example/x",
                    "title": "A",
                    "encrypted_content": "zz",
                },
                {
                    "type": "web_search_result",
                    "url": "https://b.example/",
                    "title": "B",
                    "encrypted_content": "",
                    "page_age": "2 days ago",
                },
            ],
        },
        text("Found it."),
    )

    assert items(user("q"), turn)[1] == assistant_item(
        out_text('[web_search] "django async"'),
        out_text(
            "[web_search_tool_result]\n- A <https://a.example/x>\n- B <https://b.example/> (2 days ago)"
        ),
        out_text("Found it."),
    )


def test_a_failed_web_search_in_history_reads_as_its_error_code() -> None:
    turn = assistant(
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"},
        },
    )

    assert items(user("q"), turn)[1] == assistant_item(
        out_text('[web_search] "q"'), out_text("[web_search_tool_result] error: max_uses_exceeded")
    )


def test_other_server_tool_history_is_kept_as_json_text_without_encrypted_fields() -> None:
    turn = assistant(
        {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_fetch", "input": {"url": "https://a"}},
        {
            "type": "web_fetch_tool_result",
            "tool_use_id": "srvtoolu_2",
            "content": {"type": "web_fetch_result", "url": "https://a", "encrypted_content": "zzz"},
        },
        text("Fetched."),
    )

    assert items(user("q"), turn)[1] == assistant_item(
        out_text('[server_tool_use] {"id":"srvtoolu_2","name":"web_fetch","input":{"url":"https://a"}}'),
        out_text(
            '[web_fetch_tool_result] {"tool_use_id":"srvtoolu_2","content":'
            '{"type":"web_fetch_result","url":"https://a"}}'
        ),
        out_text("Fetched."),
    )


def test_compaction_keeps_its_summary_and_fallback_is_not_rendered() -> None:
    turn = assistant(
        {"type": "compaction", "content": "Earlier: the user asked about X.", "encrypted_content": "e"},
        {"type": "fallback", "to": {"model": "m"}},
        text("Go on."),
    )

    assert items(user("q"), turn)[1] == assistant_item(
        out_text("Earlier: the user asked about X."), out_text("Go on.")
    )
