"""Finished Responses output -> Anthropic Message (protocol.md C.2-C.6): the one source of truth.

``response_to_message`` answers non-streaming requests; the stream translator (``translate.stream``)
builds its events from the same helpers — usage, stop reason, message skeleton, tool and thinking
blocks — so both paths agree on every field.

Decisions (documented here once):
- Empty text parts produce no text block (Anthropic rejects empty text blocks when the client sends
  the history back); the stream translator opens text blocks lazily for the same reason.
- Thinking text is the reasoning item's non-empty summary texts joined with ``"\\n\\n"``, or, without
  a summary, its ``reasoning_text`` contents. A reasoning item with neither text nor
  ``encrypted_content`` has nothing to show or carry and yields no block.
- Function-call arguments that are not a JSON object (invalid JSON, or e.g. a list) do not fail the
  request: ``input`` becomes ``{INVALID_ARGUMENTS_KEY: <raw string>}``, so the client's tool rejects
  the input and the model can retry, and the other blocks of the answer survive.
- After a stop-sequence cut the upstream's real usage is reported (the upstream did generate and bill
  it); the streaming path, which stops reading, has to estimate instead. A text block cut short loses its
  citations (the stream defers them to the block's end when stop sequences are set, for the same result).
- With the web search tool declared, ``web_search_call`` items become server tool blocks and
  ``url_citation`` annotations text citations (``translate.web_search``), and usage counts the searches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from streaming.error_map import error_for_event
from streaming.errors import BadGatewayError, GatewayError
from streaming.json_codec import loads_strict
from streaming.translate.context import RequestContext
from streaming.translate.ids import message_id, tool_use_id
from streaming.translate.signature import mint_signature
from streaming.translate.stopseq import find_stop
from streaming.translate.types import (
    ContentBlock,
    Message,
    RedactedThinkingBlock,
    StopReason,
    TextBlock,
    ThinkingBlock,
    ToolUseBlock,
    Usage,
)
from streaming.translate.web_search import (
    WEB_SEARCH_CALL,
    part_citations,
    response_titles,
    search_blocks,
    search_failed,
    server_tool_usage,
)

INVALID_ARGUMENTS_KEY = "_gateway_invalid_arguments"
THINKING_PART_SEPARATOR = "\n\n"

# incomplete_details.reason -> stop_reason (C.3); unknown reasons end the turn.
_INCOMPLETE_STOP_REASONS: dict[str, StopReason] = {
    "max_output_tokens": "max_tokens",
    "content_filter": "refusal",
}


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _str(value: object) -> str:
    """A string field of an upstream item; anything else (a dict, a number, null) counts as absent."""
    return value if isinstance(value, str) else ""


def usage_from(usage: object) -> Usage:
    """Anthropic usage from Responses usage (C.6); missing or odd fields count as 0.

    OpenAI's ``input_tokens`` includes cached tokens, Anthropic's excludes them.
    """
    if not isinstance(usage, Mapping):
        usage = {}
    details = usage.get("input_tokens_details")
    if not isinstance(details, Mapping):
        details = {}
    cached, written = _int(details.get("cached_tokens")), _int(details.get("cache_write_tokens"))
    return {
        "input_tokens": max(_int(usage.get("input_tokens")) - cached - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": _int(usage.get("output_tokens")),
    }


def message_usage(usage: object, context: RequestContext, searches: int) -> Usage:
    """The final usage: the upstream's figures, plus the searches when the client declared web search."""
    result = usage_from(usage)
    if context.web_search:
        result["server_tool_use"] = server_tool_usage(searches)
    return result


def zero_usage() -> Usage:
    """``message_start`` usage: every field the SDK types have, as numbers (the upstream reports at the end)."""
    return usage_from(None)


def incomplete_reason(response: Mapping[str, Any]) -> str | None:
    details = response.get("incomplete_details")
    reason = details.get("reason") if isinstance(details, Mapping) else None
    return reason if isinstance(reason, str) else None


def stop_reason_for(status: object, reason: str | None, *, tool_use: bool, refusal: bool) -> StopReason:
    """Anthropic ``stop_reason`` for a finished upstream response (C.3; stop sequences are decided apart)."""
    if status == "incomplete":
        return _INCOMPLETE_STOP_REASONS.get(reason or "", "end_turn")
    if tool_use:
        return "tool_use"
    if refusal:
        return "refusal"
    return "end_turn"


def anthropic_message_id(response: Mapping[str, Any]) -> str:
    """``msg_`` + the upstream response id (C.4), or a fresh one from servers that send none."""
    upstream_id = response.get("id")
    if isinstance(upstream_id, str) and upstream_id:
        return message_id(upstream_id)
    return "msg_" + uuid.uuid4().hex


def message_skeleton(msg_id: str, context: RequestContext) -> Message:
    """The Message as ``message_start`` carries it: no content, no stop reason yet, zero usage."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": context.client_model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": zero_usage(),
    }


def parse_arguments(arguments: object) -> dict[str, Any]:
    """Function-call arguments as a tool ``input`` object; never raises (see module docstring)."""
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = loads_strict(arguments)
    except (ValueError, RecursionError):
        value = None
    return value if isinstance(value, dict) else {INVALID_ARGUMENTS_KEY: arguments}


def tool_use_start(item: Mapping[str, Any], context: RequestContext) -> ToolUseBlock:
    """A ``tool_use`` block with empty input, as ``content_block_start`` carries it."""
    call_id = _str(item.get("call_id")) or _str(item.get("id"))
    name = _str(item.get("name"))
    return {
        "type": "tool_use",
        "id": tool_use_id(call_id),
        "name": context.tool_names.get(name, name),
        "input": {},
    }


def tool_use_block(item: Mapping[str, Any], context: RequestContext) -> ToolUseBlock:
    block = tool_use_start(item, context)
    block["input"] = parse_arguments(item.get("arguments"))
    return block


def _part_texts(parts: object, part_type: str) -> list[str]:
    if not isinstance(parts, list):
        return []
    texts = (p.get("text") for p in parts if isinstance(p, Mapping) and p.get("type") == part_type)
    return [t for t in texts if isinstance(t, str) and t]


def reasoning_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's readable text: summaries, else raw ``reasoning_text`` content."""
    texts = _part_texts(item.get("summary"), "summary_text") or _part_texts(
        item.get("content"), "reasoning_text"
    )
    return THINKING_PART_SEPARATOR.join(texts)


def reasoning_signature(item: Mapping[str, Any], context: RequestContext) -> str:
    """The thinking signature carrying the item across turns, or "" when it has no encrypted content."""
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str) or not encrypted:
        return ""
    return mint_signature(_str(item.get("id")), encrypted, context.signing_key, model=context.upstream_model)


def reasoning_block(
    item: Mapping[str, Any], context: RequestContext
) -> ThinkingBlock | RedactedThinkingBlock | None:
    """The block for a finished reasoning item (C.4), or None (thinking off, or nothing to show or carry)."""
    if not context.thinking:
        return None
    text = "" if context.thinking_display == "omitted" else reasoning_text(item)
    signature = reasoning_signature(item, context)
    if not text and not signature:
        return None
    if not text and context.thinking_display != "omitted":
        return {"type": "redacted_thinking", "data": signature}
    return {"type": "thinking", "thinking": text, "signature": signature}


def _message_blocks(item: Mapping[str, Any], context: RequestContext) -> tuple[list[TextBlock], bool]:
    """Text blocks of a message item (with their web search citations), and whether it refused."""
    blocks: list[TextBlock] = []
    refused = False
    content = item.get("content")
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "output_text":
            text = part.get("text")
        elif part.get("type") == "refusal":
            text, refused = part.get("refusal"), True
        else:
            continue
        if isinstance(text, str) and text:
            block: TextBlock = {"type": "text", "text": text}
            if context.web_search and (citations := part_citations(part, text)):
                block["citations"] = citations
            blocks.append(block)
    return blocks, refused


def cut_at_stop_sequence(
    content: list[ContentBlock], sequences: tuple[str, ...]
) -> tuple[list[ContentBlock], str | None]:
    """Content cut before the first stop-sequence match (earliest text block wins); later blocks dropped."""
    if not sequences:
        return content, None
    for position, block in enumerate(content):
        if block["type"] != "text":
            continue
        match = find_stop(block["text"], sequences)
        if match is None:
            continue
        start, seq = match
        kept = content[:position]
        if start:
            kept.append({"type": "text", "text": block["text"][:start]})
        return kept, seq
    return content, None


def _failure(response: Mapping[str, Any], secrets: Iterable[str | None]) -> GatewayError:
    if response.get("status") == "failed":
        error = response.get("error")
        return error_for_event(error if isinstance(error, Mapping) else {}, secrets=secrets)
    status = response.get("status")
    # Only a short string is echoed: the message reaches the client unredacted, and repr of deep junk can recurse.
    shown = repr(status) if isinstance(status, str) and len(status) <= 40 else "of an unexpected form"
    return BadGatewayError(f"The upstream response ended with status {shown}.")


def response_to_message(
    response: Mapping[str, Any], context: RequestContext, *, secrets: Iterable[str | None] = ()
) -> Message:
    """The Anthropic Message for a finished Responses object; raises GatewayError for failed ones.

    ``secrets`` (the upstream key) are redacted from a failed response's error message.
    """
    status = response.get("status") or "completed"
    if status not in ("completed", "incomplete"):
        raise _failure(response, secrets)
    content: list[ContentBlock] = []
    tool_use = refusal = False
    searches = 0
    output = response.get("output")
    output = output if isinstance(output, list) else []
    titles = response_titles(output) if context.web_search else {}
    for item in output:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "message":
            blocks, refused = _message_blocks(item, context)
            content += blocks
            refusal = refusal or refused
        elif kind == "function_call":
            content.append(tool_use_block(item, context))
            tool_use = True
        elif kind == "reasoning" and (block := reasoning_block(item, context)) is not None:
            content.append(block)
        elif kind == WEB_SEARCH_CALL and context.web_search and (found := search_blocks(item, titles)):
            content += found
            searches += not search_failed(item)
    content, stop_sequence = cut_at_stop_sequence(content, context.stop_sequences)
    stop_reason: StopReason
    if stop_sequence is not None:
        stop_reason = "stop_sequence"
    else:
        stop_reason = stop_reason_for(status, incomplete_reason(response), tool_use=tool_use, refusal=refusal)
    return {
        "id": anthropic_message_id(response),
        "type": "message",
        "role": "assistant",
        "model": context.client_model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": message_usage(response.get("usage"), context, searches),
    }
