"""Request validation: every bad field is a 400 whose message names the field path, Anthropic style."""

from __future__ import annotations

from typing import Any

import pytest

from streaming.errors import InvalidRequestError
from streaming.translate.context import TargetModel
from streaming.translate.request import translate_request
from streaming.translate.signature import mint_signature

ROUTE = TargetModel("claude-x", "gpt-5", reasoning=True, max_output_tokens=128_000)
MISSING = object()
TOOL = {"name": "a", "input_schema": {"type": "object"}}
HELLO = {"role": "user", "content": "hi"}


def body(**fields: Any) -> dict[str, Any]:
    """A valid minimal body with some fields replaced (``MISSING`` removes one)."""
    base: dict[str, Any] = {
        "model": "claude-x",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not MISSING}


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def tool_use(tool_id: str = "toolu_1") -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "a", "input": {}}


def image(**source: Any) -> dict[str, Any]:
    fields = {"type": "base64", "media_type": "image/png", "data": "AA==", **source}
    return {"type": "image", "source": {key: value for key, value in fields.items() if value is not MISSING}}


def error_message(request_body: object, *, count_only: bool = False) -> str:
    with pytest.raises(InvalidRequestError) as caught:
        translate_request(request_body, ROUTE, signing_key="k", count_only=count_only)
    return caught.value.message


TOP_LEVEL_CASES = [
    ([], "Request body must be a JSON object."),
    (body(model=MISSING), "model: Field required"),
    (body(model=None), "model: Field required"),
    (body(model=5), "model: Input should be a valid string"),
    (body(model=""), "model: String should have at least 1 character"),
    (body(max_tokens=MISSING), "max_tokens: Field required"),
    (body(max_tokens=True), "max_tokens: Input should be a valid integer"),
    (body(max_tokens="100"), "max_tokens: Input should be a valid integer"),
    (body(max_tokens=1.5), "max_tokens: Input should be a valid integer"),
    (body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
    (body(max_tokens=2**31), "max_tokens: Input should be less than or equal to 2147483647"),
    (body(max_tokens=10**30), "max_tokens: Input should be less than or equal to 2147483647"),
    (body(messages=MISSING), "messages: Field required"),
    (body(messages={}), "messages: Input should be a valid list"),
    (body(messages=[]), "messages: at least one message is required"),
    (body(messages=[1]), "messages.0: Input should be a valid dictionary"),
    (body(messages=[{"content": "x"}]), "messages.0.role: Field required"),
    (
        body(messages=[{"role": "tool", "content": "x"}]),
        "messages.0.role: Input should be 'user', 'assistant' or 'system'",
    ),
    (body(messages=[{"role": "user"}]), "messages.0.content: Field required"),
    (
        body(messages=[{"role": "user", "content": 5}]),
        "messages.0.content: Input should be a valid string or a valid list",
    ),
    (body(stream="yes"), "stream: Input should be a valid boolean"),
    (body(temperature=1.5), "temperature: Input should be between 0 and 1"),
    (body(temperature="hot"), "temperature: Input should be a valid number"),
    (body(temperature=True), "temperature: Input should be a valid number"),
    (body(top_p=-0.1), "top_p: Input should be between 0 and 1"),
    (body(top_k=1.5), "top_k: Input should be a valid integer"),
    (body(top_k=10**30), "top_k: Input should be less than or equal to 2147483647"),
    (
        body(tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 10**30}]),
        "tools.0.max_uses: Input should be less than or equal to 2147483647",
    ),
    (body(stop_sequences="x"), "stop_sequences: Input should be a valid list"),
    (body(stop_sequences=["a", 3]), "stop_sequences.1: Input should be a valid string"),
    (body(stop_sequences=[""]), "stop_sequences.0: String should have at least 1 character"),
    (body(metadata=[]), "metadata: Input should be a valid dictionary"),
    (body(metadata={"user_id": 5}), "metadata.user_id: Input should be a valid string"),
    (body(system=5), "system: Input should be a valid list"),
    (body(system=["x"]), "system.0: Input should be a valid dictionary"),
    (body(system=[{"type": "image"}]), "system.0.type: Input should be 'text'"),
    (body(system=[{"type": "text"}]), "system.0.text: Field required"),
    (body(tools={}), "tools: Input should be a valid list"),
    (body(tools=[5]), "tools.0: Input should be a valid dictionary"),
    (body(tools=[{"input_schema": {}}]), "tools.0.name: Field required"),
    (body(tools=[{"name": "", "input_schema": {}}]), "tools.0.name: String should have at least 1 character"),
    (body(tools=[{"name": "a"}]), "tools.0.input_schema: Field required"),
    (
        body(tools=[{"name": "a", "input_schema": []}]),
        "tools.0.input_schema: Input should be a valid dictionary",
    ),
    (
        body(tools=[{"name": "a", "input_schema": {"type": "string"}}]),
        "tools.0.input_schema.type: Input should be 'object'",
    ),
    (
        body(tools=[{"name": "a", "input_schema": {}, "description": 5}]),
        "tools.0.description: Input should be a valid string",
    ),
    (body(tools=[TOOL, TOOL]), "tools.1.name: Tool names must be unique ('a' appears twice)"),
    (body(tools=[{"type": 7, "name": "a"}]), "tools.0.type: Input should be a valid string"),
    (body(tool_choice="auto", tools=[TOOL]), "tool_choice: Input should be a valid dictionary"),
    (body(tool_choice={}, tools=[TOOL]), "tool_choice.type: Field required"),
    (
        body(tool_choice={"type": "sometimes"}, tools=[TOOL]),
        "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
    ),
    (body(tool_choice={"type": "tool"}, tools=[TOOL]), "tool_choice.name: Field required"),
    (
        body(tool_choice={"type": "tool", "name": "b"}, tools=[TOOL]),
        "tool_choice.name: Tool 'b' is not defined in 'tools'",
    ),
    (body(tool_choice={"type": "any"}), "tool_choice.type: 'any' requires at least one tool in 'tools'"),
    (
        body(tool_choice={"type": "auto", "disable_parallel_tool_use": "no"}, tools=[TOOL]),
        "tool_choice.disable_parallel_tool_use: Input should be a valid boolean",
    ),
    (body(thinking="on"), "thinking: Input should be a valid dictionary"),
    (body(thinking={}), "thinking.type: Field required"),
    (
        body(thinking={"type": "fast"}),
        "thinking.type: Input should be 'enabled', 'disabled', 'adaptive' or 'between_tools'",
    ),
    (body(thinking={"type": "enabled"}), "thinking.budget_tokens: Field required"),
    (
        body(thinking={"type": "enabled", "budget_tokens": 1000}),
        "thinking.budget_tokens: Input should be greater than or equal to 1024",
    ),
    (
        body(max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 2048}),
        "thinking.budget_tokens: Input should be less than max_tokens (2048)",
    ),
    (
        body(thinking={"type": "adaptive", "display": "full"}),
        "thinking.display: Input should be 'summarized' or 'omitted'",
    ),
    (body(output_config=[]), "output_config: Input should be a valid dictionary"),
    (
        body(output_config={"effort": "extreme"}),
        "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'",
    ),
    (
        body(output_config={"format": {"type": "json_object"}}),
        "output_config.format.type: Input should be 'json_schema'",
    ),
    (body(output_config={"format": {"type": "json_schema"}}), "output_config.format.schema: Field required"),
    (
        body(output_format={"type": "json_schema", "schema": 1}),
        "output_format.schema: Input should be a valid dictionary",
    ),
]


@pytest.mark.parametrize(("request_body", "message"), TOP_LEVEL_CASES)
def test_invalid_top_level_field_is_named_in_the_error(request_body: object, message: str) -> None:
    assert error_message(request_body) == message


@pytest.mark.parametrize(
    ("kind", "advice"),
    [
        ("web_fetch_20250910", "use web search (web_search_20250305)"),
        ("code_execution_20250825", "define a custom tool that runs code in your application"),
        ("mcp_toolset", "declare their tools as custom tools"),
        ("tool_search_tool_regex_20251119", "the gateway sends every tool to the model"),
        ("computer_toolset_20260801", "declare the single computer tool instead"),
        ("advisor_20260301", "define a custom tool (name, description, input_schema)"),
    ],
)
def test_server_tools_without_an_upstream_equivalent_are_rejected_naming_what_to_do(
    kind: str, advice: str
) -> None:
    message = error_message(body(tools=[TOOL, {"type": kind, "name": "x"}]))

    assert message.startswith(f"tools.1.type: '{kind}' is not supported by this gateway: ")
    assert advice in message


BLOCK_CASES = [
    ([user("x")], "messages.0.content.0: Input should be a valid dictionary"),
    ([user({"text": "x"})], "messages.0.content.0.type: Field required"),
    ([user({"type": "text"})], "messages.0.content.0.text: Field required"),
    ([user({"type": "text", "text": 5})], "messages.0.content.0.text: Input should be a valid string"),
    ([user({"type": "image"})], "messages.0.content.0.source: Field required"),
    (
        [
            HELLO,
            assistant({"type": "text", "text": "ok"}),
            user({"type": "text", "text": "x"}, image(data=MISSING)),
        ],
        "messages.2.content.1.source.data: Field required",
    ),
    (
        [user(image(media_type="image/bmp"))],
        "messages.0.content.0.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
    ),
    (
        [user(image(type="ftp"))],
        "messages.0.content.0.source.type: Input should be 'base64', 'url' or 'file'",
    ),
    (
        [user(image(type="file", file_id="file_1"))],
        "messages.0.content.0.source.type: 'file' sources (Anthropic Files API ids) are not supported by this gateway",
    ),
    ([user({"type": "image", "source": {"type": "url"}})], "messages.0.content.0.source.url: Field required"),
    (
        [user({"type": "text", "text": "x"}, image(type="url", url="file:///etc/passwd"))],
        "messages.0.content.1.source.url: URL scheme 'file' is not allowed; only http and https URLs can be fetched",
    ),
    (
        [user({"type": "document", "source": {"type": "url", "url": "http://169.254.169.254/latest"}})],
        "messages.0.content.0.source.url: URL host '169.254.169.254' is not a public address (loopback, private, link-local or reserved)",
    ),
    (
        [
            assistant(tool_use()),
            user(
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [image(type="url", url="http://[::1]/shot.png")],
                }
            ),
        ],
        "messages.1.content.0.content.0.source.url: URL host [::1] is not a public address (loopback, private, link-local or reserved)",
    ),
    (
        [
            user(
                {
                    "type": "document",
                    "source": {
                        "type": "content",
                        "content": [image(type="url", url="http://localhost/a.png")],
                    },
                }
            )
        ],
        "messages.0.content.0.source.content.0.source.url: URL host 'localhost' is a local name, not a public domain",
    ),
    (
        [user(image(data="not base64!"))],
        "messages.0.content.0.source.data: Invalid base64 data: character '!' at position 10 is not in the base64 alphabet",
    ),
    (
        [
            user(
                {
                    "type": "document",
                    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0"},
                }
            )
        ],
        "messages.0.content.0.source.data: Invalid base64 data: length 7 is not a multiple of 4 (missing '=' padding?)",
    ),
    (
        [
            assistant(tool_use()),
            user({"type": "tool_result", "tool_use_id": "toolu_1", "content": [image(data="a-b_")]}),
        ],
        "messages.1.content.0.content.0.source.data: Invalid base64 data: URL-safe base64 ('-' and '_') is not accepted; use the standard alphabet ('+' and '/')",
    ),
    (
        [user({"type": "document", "source": {"type": "base64", "media_type": "text/html", "data": "AA=="}})],
        "messages.0.content.0.source.media_type: Input should be 'application/pdf'",
    ),
    (
        [user({"type": "document", "source": {"type": "text", "data": "x"}, "title": 5})],
        "messages.0.content.0.title: Input should be a valid string",
    ),
    (
        [user({"type": "document", "source": {"type": "content", "content": [{"type": "document"}]}})],
        "messages.0.content.0.source.content.0.type: 'document' blocks are not allowed in document content",
    ),
    ([user(tool_use())], "messages.0.content.0.type: 'tool_use' blocks are not allowed in user messages"),
    (
        [assistant({"type": "tool_result", "tool_use_id": "toolu_1"})],
        "messages.0.content.0.type: 'tool_result' blocks are not allowed in assistant messages",
    ),
    (
        [{"role": "system", "content": [image()]}],
        "messages.0.content.0.type: 'image' blocks are not allowed in system messages",
    ),
    (
        [assistant({"type": "tool_use", "id": "toolu_1", "name": "a"})],
        "messages.0.content.0.input: Field required",
    ),
    (
        [assistant({"type": "tool_use", "id": "toolu_1", "name": "a", "input": []})],
        "messages.0.content.0.input: Input should be a valid dictionary",
    ),
    ([assistant({"type": "tool_use", "name": "a", "input": {}})], "messages.0.content.0.id: Field required"),
    (
        [user({"type": "tool_result", "tool_use_id": "toolu_9"})],
        "messages.0.content.0.tool_use_id: no tool_use block with this id appears in an earlier assistant message",
    ),
    (
        [assistant(tool_use()), user({"type": "tool_result", "tool_use_id": "toolu_1", "is_error": "yes"})],
        "messages.1.content.0.is_error: Input should be a valid boolean",
    ),
    (
        [assistant(tool_use()), user({"type": "tool_result", "tool_use_id": "toolu_1", "content": 5})],
        "messages.1.content.0.content: Input should be a valid list",
    ),
    (
        [
            assistant(tool_use()),
            user({"type": "tool_result", "tool_use_id": "toolu_1", "content": [tool_use()]}),
        ],
        "messages.1.content.0.content.0.type: 'tool_use' blocks are not allowed in tool_result content",
    ),
    ([assistant({"type": "thinking", "thinking": "x"})], "messages.0.content.0.signature: Field required"),
    ([assistant({"type": "redacted_thinking"})], "messages.0.content.0.data: Field required"),
    (
        [user({"type": "search_result", "source": "s", "content": []})],
        "messages.0.content.0.title: Field required",
    ),
]


@pytest.mark.parametrize(("messages", "message"), BLOCK_CASES)
def test_invalid_content_block_is_named_by_its_path(messages: list[Any], message: str) -> None:
    assert error_message(body(messages=messages)) == message


def test_unknown_block_type_lists_the_expected_tags() -> None:
    message = error_message(body(messages=[user({"type": "video"})]))

    assert message.startswith(
        "messages.0.content.0.type: Input tag 'video' found using 'type' does not match"
    )
    assert "'tool_result'" in message


def test_a_foreign_or_tampered_signature_is_never_an_error() -> None:
    forged = mint_signature("rs_1", "enc", "another-key")
    messages = [
        HELLO,
        assistant(
            {"type": "thinking", "thinking": "t", "signature": "EqQBCkYIBxgCKkBreal-claude-signature"},
            {"type": "thinking", "thinking": "t", "signature": forged},
            {"type": "redacted_thinking", "data": "opaque-claude-data"},
            {"type": "text", "text": "ok"},
        ),
    ]

    translate_request(body(messages=messages), ROUTE, signing_key="k")


def test_count_only_needs_no_max_tokens_and_ignores_stream() -> None:
    request_body = body(
        max_tokens=MISSING, stream="not-a-bool", thinking={"type": "enabled", "budget_tokens": 4096}
    )

    translated = translate_request(request_body, ROUTE, signing_key="k", count_only=True)

    assert "max_output_tokens" not in translated.payload


def test_count_only_still_validates_the_rest() -> None:
    assert error_message(body(max_tokens=MISSING, messages=[]), count_only=True) == (
        "messages: at least one message is required"
    )
