"""Builders for realistic OpenAI Responses API events and objects, for the fake upstream and unit tests.

Shapes are copied from tests/fixtures/*.sse (protocol.md B.3/B.4); web search calls and url citations follow
openai-python's ``ResponseFunctionWebSearch``, ``response_web_search_call_*_event`` and
``ResponseOutputTextAnnotationAddedEvent`` (tests/unit/test_fake_upstream.py validates them against those
types). Item-level builders (``message_item_events`` ...) compose into a whole stream with ``response_events``;
``text_response_events`` and friends cover the common cases in one call; ``final_response`` gives the
matching non-streaming body. Plain dicts, no I/O: serve them with ``tests.fakes.upstream.sse_events``.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

__all__ = [
    "CREATED_AT",
    "DEFAULT_MODEL",
    "error_event",
    "failed_response_events",
    "final_response",
    "function_call_events",
    "function_call_item",
    "function_call_item_events",
    "incomplete_response_events",
    "message_item",
    "message_item_events",
    "new_id",
    "output_text_part",
    "reasoning_item",
    "reasoning_item_events",
    "reasoning_response_events",
    "refusal_item_events",
    "refusal_response_events",
    "response_events",
    "response_object",
    "text_response_events",
    "url_citation",
    "usage_object",
    "web_search_call_item",
    "web_search_call_item_events",
    "web_search_response_events",
]

DEFAULT_MODEL = "gpt-4.1-mini-2025-04-14"
CREATED_AT = 1767225600


def new_id(prefix: str) -> str:
    """An id shaped like OpenAI's: ``resp_``/``msg_``/``fc_``/``rs_`` + 48 hex, ``call_`` + 24 alnum."""
    if prefix == "call":
        return "call_" + secrets.token_urlsafe(18).replace("-", "a").replace("_", "b")[:24]
    return f"{prefix}_" + secrets.token_hex(24)


def usage_object(
    input_tokens: int = 12,
    output_tokens: int = 10,
    *,
    cached_tokens: int = 0,
    reasoning_tokens: int = 0,
    cache_write_tokens: int | None = None,
) -> dict[str, Any]:
    """Responses ``usage`` (input includes cached, output includes reasoning: protocol.md B.3)."""
    details: dict[str, int] = {"cached_tokens": cached_tokens}
    if cache_write_tokens is not None:
        details["cache_write_tokens"] = cache_write_tokens
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": details,
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def response_object(
    output: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    status: str = "completed",
    *,
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
    incomplete_reason: str | None = None,
    error: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Responses API response object (non-streaming body, and the ``response`` in lifecycle events).

    ``usage`` defaults to ``usage_object()`` for completed/incomplete responses, ``null`` otherwise.
    """
    if usage is None and status in ("completed", "incomplete"):
        usage = usage_object()
    body: dict[str, Any] = {
        "id": response_id or new_id("resp"),
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "background": False,
        "completed_at": CREATED_AT + 2 if status == "completed" else None,
        "error": error,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": None,
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": model,
        "output": list(output or []),
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }
    body.update(extra)
    return body


def _pieces(text: str | list[str]) -> list[str]:
    """Deltas as the upstream sends them: words with their leading space (`` "Hello", " world"``)."""
    if isinstance(text, list):
        return text
    return re.findall(r"\s*\S+|\s+$", text) or [text]


def _arguments(arguments: str | dict[str, Any]) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments, separators=(",", ":"))


def output_text_part(text: str, annotations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"type": "output_text", "annotations": list(annotations or []), "logprobs": [], "text": text}


def url_citation(text: str, span: str, url: str, title: str) -> dict[str, Any]:
    """A ``url_citation`` annotation over the first occurrence of ``span`` in ``text`` (character indices)."""
    start = text.index(span)
    return {
        "type": "url_citation",
        "start_index": start,
        "end_index": start + len(span),
        "title": title,
        "url": url,
    }


def message_item(
    text: str = "",
    *,
    item_id: str | None = None,
    status: str = "completed",
    refusal: str | None = None,
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An assistant ``message`` output item (one output_text part, or one refusal part)."""
    part = (
        {"type": "refusal", "refusal": refusal}
        if refusal is not None
        else output_text_part(text, annotations)
    )
    return {
        "id": item_id or new_id("msg"),
        "type": "message",
        "status": status,
        "content": [part],
        "role": "assistant",
    }


def function_call_item(
    name: str,
    arguments: str | dict[str, Any],
    *,
    call_id: str | None = None,
    item_id: str | None = None,
    status: str = "completed",
) -> dict[str, Any]:
    return {
        "id": item_id or new_id("fc"),
        "type": "function_call",
        "status": status,
        "arguments": _arguments(arguments),
        "call_id": call_id or new_id("call"),
        "name": name,
    }


def reasoning_item(
    summary: list[str] | None = None, *, encrypted_content: str | None = None, item_id: str | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id or new_id("rs"), "type": "reasoning"}
    if encrypted_content is not None:
        item["encrypted_content"] = encrypted_content
    item["summary"] = [{"type": "summary_text", "text": text} for text in summary or []]
    return item


def message_item_events(
    text: str | list[str],
    *,
    output_index: int = 0,
    item_id: str | None = None,
    status: str = "completed",
    annotations: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """added -> content_part.added -> output_text.delta x n -> text.done -> part.done -> item.done.

    Each annotation's ``response.output_text.annotation.added`` follows the delta that completes its span,
    as the live API sends them; the done part and item carry them all.
    """
    item_id = item_id or new_id("msg")
    deltas = _pieces(text)
    full = "".join(deltas)
    annotations = list(annotations or [])
    where = {"item_id": item_id, "output_index": output_index, "content_index": 0}
    events: list[dict[str, Any]] = [
        {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": {**message_item(item_id=item_id, status="in_progress"), "content": []},
        },
        {"type": "response.content_part.added", **where, "part": output_text_part("")},
    ]
    streamed = 0
    pending = list(enumerate(annotations))
    for delta in deltas:
        events.append(
            {
                "type": "response.output_text.delta",
                **where,
                "delta": delta,
                "logprobs": [],
                "obfuscation": "x" * (12 - min(len(delta), 11)),
            }
        )
        streamed += len(delta)
        while pending and pending[0][1]["end_index"] <= streamed:
            index, annotation = pending.pop(0)
            events.append(
                {
                    "type": "response.output_text.annotation.added",
                    **where,
                    "annotation_index": index,
                    "annotation": annotation,
                }
            )
    events += [
        {"type": "response.output_text.done", **where, "text": full, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": output_text_part(full, annotations)},
        {
            "type": "response.output_item.done",
            "output_index": output_index,
            "item": message_item(full, item_id=item_id, status=status, annotations=annotations),
        },
    ]
    return events


def refusal_item_events(
    refusal: str | list[str], *, output_index: int = 0, item_id: str | None = None
) -> list[dict[str, Any]]:
    """A message whose content part is a refusal (``response.refusal.delta`` / ``.done``)."""
    item_id = item_id or new_id("msg")
    deltas = _pieces(refusal)
    full = "".join(deltas)
    where = {"item_id": item_id, "output_index": output_index, "content_index": 0}
    return [
        {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": {**message_item(item_id=item_id, status="in_progress"), "content": []},
        },
        {"type": "response.content_part.added", **where, "part": {"type": "refusal", "refusal": ""}},
        *({"type": "response.refusal.delta", **where, "delta": delta} for delta in deltas),
        {"type": "response.refusal.done", **where, "refusal": full},
        {"type": "response.content_part.done", **where, "part": {"type": "refusal", "refusal": full}},
        {
            "type": "response.output_item.done",
            "output_index": output_index,
            "item": message_item(item_id=item_id, refusal=full),
        },
    ]


def function_call_item_events(
    name: str,
    arguments: str | dict[str, Any],
    *,
    call_id: str | None = None,
    item_id: str | None = None,
    output_index: int = 0,
    chunk_size: int = 8,
) -> list[dict[str, Any]]:
    """added (with name, call_id) -> function_call_arguments.delta x n -> arguments.done -> item.done."""
    item_id = item_id or new_id("fc")
    call_id = call_id or new_id("call")
    args = _arguments(arguments)
    where = {"item_id": item_id, "output_index": output_index}
    added = function_call_item(name, "", call_id=call_id, item_id=item_id, status="in_progress")
    return [
        {"type": "response.output_item.added", "output_index": output_index, "item": added},
        *(
            {"type": "response.function_call_arguments.delta", **where, "delta": piece, "obfuscation": "xyz"}
            for piece in _fixed_text_chunks(args, chunk_size)
        ),
        {"type": "response.function_call_arguments.done", **where, "arguments": args},
        {
            "type": "response.output_item.done",
            "output_index": output_index,
            "item": function_call_item(name, args, call_id=call_id, item_id=item_id),
        },
    ]


def _fixed_text_chunks(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def reasoning_item_events(
    summary: list[str | list[str]],
    *,
    encrypted_content: str | None = "gAAAAABfake-encrypted-reasoning==",
    item_id: str | None = None,
    output_index: int = 0,
) -> list[dict[str, Any]]:
    """A reasoning item: summary parts with deltas; ``encrypted_content`` only in output_item.done."""
    item_id = item_id or new_id("rs")
    events: list[dict[str, Any]] = [
        {
            "type": "response.output_item.added",
            "output_index": output_index,
            "item": reasoning_item(item_id=item_id),
        }
    ]
    texts: list[str] = []
    for index, part in enumerate(summary):
        deltas = _pieces(part)
        text = "".join(deltas)
        texts.append(text)
        where = {"item_id": item_id, "output_index": output_index, "summary_index": index}
        events.append(
            {
                "type": "response.reasoning_summary_part.added",
                **where,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        events += [
            {"type": "response.reasoning_summary_text.delta", **where, "delta": delta, "obfuscation": "xyz"}
            for delta in deltas
        ]
        events.append({"type": "response.reasoning_summary_text.done", **where, "text": text})
        events.append(
            {
                "type": "response.reasoning_summary_part.done",
                **where,
                "part": {"type": "summary_text", "text": text},
            }
        )
    done = reasoning_item(texts, encrypted_content=encrypted_content, item_id=item_id)
    events.append({"type": "response.output_item.done", "output_index": output_index, "item": done})
    return events


def web_search_call_item(
    query: str, sources: list[str], *, item_id: str | None = None, status: str = "completed"
) -> dict[str, Any]:
    """A finished ``web_search_call``: a ``search`` action with its sources (``include`` asked for them)."""
    action = {"type": "search", "query": query, "sources": [{"type": "url", "url": url} for url in sources]}
    return {"id": item_id or new_id("ws"), "type": "web_search_call", "status": status, "action": action}


def web_search_call_item_events(
    query: str,
    sources: list[str],
    *,
    output_index: int = 0,
    item_id: str | None = None,
    status: str = "completed",
) -> list[dict[str, Any]]:
    """added (``action: {"type": "search"}``, no query yet) -> in_progress -> searching -> completed -> done.

    A ``failed`` search has no ``completed`` event; its done item has status ``failed`` and no sources.
    """
    item_id = item_id or new_id("ws")
    where = {"item_id": item_id, "output_index": output_index}
    added = {"id": item_id, "type": "web_search_call", "status": "in_progress", "action": {"type": "search"}}
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.added", "output_index": output_index, "item": added},
        {"type": "response.web_search_call.in_progress", **where},
        {"type": "response.web_search_call.searching", **where},
    ]
    if status == "completed":
        events.append({"type": "response.web_search_call.completed", **where})
    done = web_search_call_item(
        query, sources if status == "completed" else [], item_id=item_id, status=status
    )
    events.append({"type": "response.output_item.done", "output_index": output_index, "item": done})
    return events


_TERMINAL = {
    "completed": "response.completed",
    "incomplete": "response.incomplete",
    "failed": "response.failed",
}


def response_events(
    *items: list[dict[str, Any]],
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
    usage: dict[str, Any] | None = None,
    status: str = "completed",
    incomplete_reason: str | None = None,
    error: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A whole stream: created -> in_progress -> the items' events -> terminal event; numbered 0..n-1.

    The terminal ``response.output`` is built from the items' ``output_item.done`` events.
    """
    response_id = response_id or new_id("resp")
    start = response_object([], None, "in_progress", response_id=response_id, model=model)
    item_events = [event for events in items for event in events]
    output = [event["item"] for event in item_events if event["type"] == "response.output_item.done"]
    final = response_object(
        output,
        usage,
        status,
        response_id=response_id,
        model=model,
        incomplete_reason=incomplete_reason,
        error=error,
    )
    events = [
        {"type": "response.created", "response": start},
        {"type": "response.in_progress", "response": start},
        *item_events,
        {"type": _TERMINAL[status], "response": final},
    ]
    return [
        {
            "type": event["type"],
            "sequence_number": seq,
            **{k: v for k, v in event.items() if k != "sequence_number"},
        }
        for seq, event in enumerate(events)
    ]


def text_response_events(
    text: str | list[str],
    *,
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
    usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A plain text answer (``text`` as a list gives the exact deltas)."""
    return response_events(message_item_events(text), response_id=response_id, model=model, usage=usage)


def function_call_events(
    name: str,
    arguments: str | dict[str, Any],
    *,
    call_id: str | None = None,
    text: str | None = None,
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
    usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A tool call answer, optionally preceded by a text item (like tool_call.sse)."""
    items = [message_item_events(text, output_index=0)] if text else []
    items.append(function_call_item_events(name, arguments, call_id=call_id, output_index=len(items)))
    return response_events(*items, response_id=response_id, model=model, usage=usage)


def reasoning_response_events(
    summary: list[str | list[str]],
    text: str | list[str],
    *,
    encrypted_content: str | None = "gAAAAABfake-encrypted-reasoning==",
    reasoning_id: str | None = None,
    response_id: str | None = None,
    model: str = "gpt-5-mini-2025-08-07",
    usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Reasoning item (summary parts, encrypted_content in output_item.done) then a text item."""
    return response_events(
        reasoning_item_events(summary, encrypted_content=encrypted_content, item_id=reasoning_id),
        message_item_events(text, output_index=1),
        response_id=response_id,
        model=model,
        usage=usage or usage_object(21, 214, reasoning_tokens=192),
    )


def web_search_response_events(
    query: str,
    sources: list[str],
    text: str | list[str],
    annotations: list[dict[str, Any]] | None = None,
    *,
    search_id: str | None = None,
    response_id: str | None = None,
    model: str = "gpt-5-2025-08-07",
    usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One web search, then the answer citing what it found (like the live API with ``web_search``)."""
    return response_events(
        web_search_call_item_events(query, sources, item_id=search_id),
        message_item_events(text, output_index=1, annotations=annotations),
        response_id=response_id,
        model=model,
        usage=usage or usage_object(1480, 96),
    )


def refusal_response_events(
    refusal: str | list[str], *, response_id: str | None = None, model: str = DEFAULT_MODEL
) -> list[dict[str, Any]]:
    return response_events(refusal_item_events(refusal), response_id=response_id, model=model)


def incomplete_response_events(
    text: str | list[str],
    *,
    reason: str = "max_output_tokens",
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
    usage: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Text cut off: the item's status is ``incomplete`` and the stream ends with ``response.incomplete``."""
    return response_events(
        message_item_events(text, status="incomplete"),
        response_id=response_id,
        model=model,
        usage=usage or usage_object(18, 16),
        status="incomplete",
        incomplete_reason=reason,
    )


def failed_response_events(
    message: str = "The server had an error while processing your request. Sorry about that!",
    *,
    code: str = "server_error",
    response_id: str | None = None,
    model: str = DEFAULT_MODEL,
) -> list[dict[str, Any]]:
    """``response.failed`` before any output (like failed.sse)."""
    return response_events(
        response_id=response_id, model=model, status="failed", error={"code": code, "message": message}
    )


def error_event(
    message: str, *, code: str | None = "server_error", error_type: str | None = None, nested: bool = True
) -> dict[str, Any]:
    """A mid-stream ``error`` event: live nested shape by default, documented flat shape with ``nested=False``."""
    if nested:
        inner = {"type": error_type or code, "code": code, "message": message, "param": None}
        return {"type": "error", "error": inner}
    return {"type": "error", "code": code, "message": message, "param": None}


def final_response(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``response`` of a stream's terminal event: the matching non-streaming body."""
    for event in reversed(events):
        if event.get("type") in _TERMINAL.values():
            response: dict[str, Any] = event["response"]
            return response
    raise ValueError("no terminal response event in these events")
