"""Strict validation of an Anthropic Messages request body, with errors that name the field path.

Messages read like Anthropic's own (pydantic style): ``messages.2.content.0.source.data: Field required``,
``max_tokens: Input should be a valid integer``. Every check raises ``InvalidRequestError`` (400); nothing
else may escape, whatever JSON comes in. Unknown top-level fields are ignored (both APIs add fields often);
fields the gateway uses are checked for type and range. Tools are checked by kind in ``translate.tools``,
content blocks where they are converted (``translate.content``), all with the helpers of
``translate.fields``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from streaming.errors import InvalidRequestError
from streaming.translate.fields import (
    at,
    expect_bool,
    expect_choice,
    expect_int,
    expect_list,
    expect_number,
    expect_object,
    expect_str,
    invalid,
    optional_str,
    require,
)
from streaming.translate.tools import check_tools

ROLES = ("user", "assistant", "system")
THINKING_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
EFFORTS = ("low", "medium", "high", "xhigh", "max")
TOOL_CHOICE_TYPES = ("auto", "any", "tool", "none")
MIN_THINKING_BUDGET = 1024

ThinkingDisplay = Literal["summarized", "omitted"]


@dataclass(frozen=True, slots=True)
class Thinking:
    """The client's thinking request, normalised (``type`` absent -> ``None``)."""

    type: str | None = None
    budget_tokens: int | None = None
    display: ThinkingDisplay = "summarized"


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    """The top level of a request after validation; messages and tools are checked shallowly here."""

    model: str
    max_tokens: int | None
    messages: list[dict[str, Any]]
    system: str | list[dict[str, Any]] | None
    temperature: float | None
    top_p: float | None
    stop_sequences: tuple[str, ...]
    user_id: str | None
    tools: list[dict[str, Any]]
    tool_choice: dict[str, Any] | None
    thinking: Thinking
    effort: str | None
    output_format: dict[str, Any] | None


def check_request(body: object, *, count_only: bool = False) -> CheckedRequest:
    """Validate the top level of a Messages (or count_tokens) body; ``count_only`` needs no ``max_tokens``."""
    if not isinstance(body, dict):
        raise InvalidRequestError("Request body must be a JSON object.")
    model = expect_str(require(body, "model", ""), "model", non_empty=True)
    max_tokens = None
    if not count_only:
        max_tokens = expect_int(require(body, "max_tokens", ""), "max_tokens", minimum=1)
        if body.get("stream") is not None:
            expect_bool(body["stream"], "stream")
    messages = _check_messages(require(body, "messages", ""))
    temperature = top_p = None
    if body.get("temperature") is not None:
        temperature = expect_number(body["temperature"], "temperature", low=0.0, high=1.0)
    if body.get("top_p") is not None:
        top_p = expect_number(body["top_p"], "top_p", low=0.0, high=1.0)
    if body.get("top_k") is not None:
        expect_int(body["top_k"], "top_k", minimum=0)
    output_config = _optional_object(body, "output_config")
    effort = None
    if output_config.get("effort") is not None:
        effort = expect_choice(output_config["effort"], "output_config.effort", EFFORTS)
    tools = check_tools(body.get("tools"))
    return CheckedRequest(
        model=model,
        max_tokens=max_tokens,
        messages=messages,
        system=_check_system(body.get("system")),
        temperature=temperature,
        top_p=top_p,
        stop_sequences=_check_stop_sequences(body.get("stop_sequences")),
        user_id=optional_str(_optional_object(body, "metadata"), "user_id", "metadata"),
        tools=tools,
        tool_choice=_check_tool_choice(body.get("tool_choice"), tools),
        thinking=_check_thinking(body.get("thinking"), max_tokens),
        effort=effort,
        output_format=_check_output_format(output_config, body),
    )


def _optional_object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key)
    return {} if value is None else expect_object(value, key)


def _check_messages(value: object) -> list[dict[str, Any]]:
    messages = expect_list(value, "messages")
    if not messages:
        raise invalid("messages", "at least one message is required")
    for index, message in enumerate(messages):
        path = at("messages", index)
        expect_object(message, path)
        expect_choice(require(message, "role", path), at(path, "role"), ROLES)
        content = message.get("content")
        if content is None:
            # A beta system message may carry only ``output_config``; user/assistant turns need content.
            if message["role"] != "system":
                raise invalid(at(path, "content"), "Field required")
        elif not isinstance(content, str | list):
            raise invalid(at(path, "content"), "Input should be a valid string or a valid list")
    return messages


def _check_system(value: object) -> str | list[dict[str, Any]] | None:
    if value is None or isinstance(value, str):
        return value
    blocks = expect_list(value, "system")
    for index, block in enumerate(blocks):
        path = at("system", index)
        expect_object(block, path)
        expect_choice(require(block, "type", path), at(path, "type"), ("text",))
        expect_str(require(block, "text", path), at(path, "text"))
    return blocks


def _check_stop_sequences(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    sequences = expect_list(value, "stop_sequences")
    # An empty stop sequence would match at once and cut every answer to nothing.
    return tuple(expect_str(s, at("stop_sequences", i), non_empty=True) for i, s in enumerate(sequences))


def _check_tool_choice(value: object, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    if value is None:
        return None
    choice = expect_object(value, "tool_choice")
    kind = expect_choice(require(choice, "type", "tool_choice"), "tool_choice.type", TOOL_CHOICE_TYPES)
    if choice.get("disable_parallel_tool_use") is not None:
        expect_bool(choice["disable_parallel_tool_use"], "tool_choice.disable_parallel_tool_use")
    if kind in ("any", "tool") and not tools:
        raise invalid("tool_choice.type", f"'{kind}' requires at least one tool in 'tools'")
    if kind == "tool":
        name = expect_str(require(choice, "name", "tool_choice"), "tool_choice.name", non_empty=True)
        if name not in {tool["name"] for tool in tools}:
            raise invalid("tool_choice.name", f"Tool '{name}' is not defined in 'tools'")
    return choice


def _check_thinking(value: object, max_tokens: int | None) -> Thinking:
    if value is None:
        return Thinking()
    thinking = expect_object(value, "thinking")
    kind = expect_choice(require(thinking, "type", "thinking"), "thinking.type", THINKING_TYPES)
    display: ThinkingDisplay = "summarized"
    if thinking.get("display") is not None:
        shown = expect_choice(thinking["display"], "thinking.display", ("summarized", "omitted"))
        display = "omitted" if shown == "omitted" else "summarized"
    budget = None
    if kind == "enabled":
        path = "thinking.budget_tokens"
        budget = expect_int(require(thinking, "budget_tokens", "thinking"), path, minimum=MIN_THINKING_BUDGET)
        if max_tokens is not None and budget >= max_tokens:
            raise invalid(path, f"Input should be less than max_tokens ({max_tokens})")
    return Thinking(type=kind, budget_tokens=budget, display=display)


def _check_output_format(output_config: dict[str, Any], body: dict[str, Any]) -> dict[str, Any] | None:
    """``output_config.format`` (or the older beta top-level ``output_format``): a JSON schema or nothing."""
    path, value = "output_config.format", output_config.get("format")
    if value is None:
        path, value = "output_format", body.get("output_format")
    if value is None:
        return None
    fmt = expect_object(value, path)
    expect_choice(require(fmt, "type", path), at(path, "type"), ("json_schema",))
    return expect_object(require(fmt, "schema", path), at(path, "schema"))
