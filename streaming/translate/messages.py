"""Anthropic ``messages`` -> Responses ``input`` items (protocol.md C.1), block by block in order.

Per role:

- ``system`` (mid-conversation, part of today's ``MessageParam``) -> a ``developer`` message, in place,
  even as the last message. Its extra fields (``output_config``, ``clear_at``) are ignored.
- ``user`` -> its ``tool_result`` blocks first, as ``function_call_output`` items (same call id as the
  ``tool_use``), then one ``user`` message with the remaining blocks as parts.
- ``assistant`` -> items in block order: text runs become ``assistant`` messages with ``output_text``
  parts (never ``input_text``), ``tool_use`` -> ``function_call`` (after the text before it),
  gateway-signed ``thinking`` / ``redacted_thinking`` -> ``reasoning`` items. Anthropic puts thinking
  first, so reasoning lands before the turn's text and tool calls; interleaved thinking keeps its place.

Reasoning items carry ``summary`` and ``encrypted_content`` but no ``id``: with ``store: false`` an ``id``
makes the upstream look the item up server-side and fail ("Item with id 'rs_…' not found", see
maximhq/bifrost#5410, NousResearch/hermes-agent#10217), and OpenAI's own Codex client never sends it
(``skip_serializing`` on ``ResponseItem::Reasoning.id`` in openai/codex ``codex-rs/protocol/src/models.rs``).
Thinking whose signature the gateway did not mint (real Claude history, tampering) is dropped silently, and
so is all reasoning when the route's upstream model is not a reasoning model (it would reject the item).
A ``tool_result`` must answer a ``tool_use`` of an earlier assistant message (the upstream rejects an
orphan ``function_call_output``); the 400 names the path. Empty text contributes nothing, and a message
left with no content produces no item.
"""

from __future__ import annotations

import json
from typing import Any

from streaming.translate import ids
from streaming.translate.content import (
    ASSISTANT_BLOCKS,
    SYSTEM_BLOCKS,
    USER_BLOCKS,
    block_type,
    document_parts,
    history_text,
    image_part,
    input_text,
    output_text,
    search_result_text,
    tool_result_output,
)
from streaming.translate.fields import at, expect_bool, expect_object, expect_str, invalid, require
from streaming.translate.signature import open_signature
from streaming.translate.types import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputItem,
    InputPart,
    OutputTextPart,
    ReasoningItem,
)


class MessageConverter:
    """Turns validated messages into input items; collects tool names seen in history on the way."""

    def __init__(self, *, signing_key: str, keep_reasoning: bool, upstream_model: str | None = None) -> None:
        self.signing_key = signing_key
        self.keep_reasoning = keep_reasoning
        # Reasoning minted for another upstream model is dropped: that model cannot decrypt it.
        self.upstream_model = upstream_model
        self.items: list[InputItem] = []
        self.tool_use_names: list[str] = []
        self._call_ids: set[str] = set()

    def convert(self, messages: list[dict[str, Any]]) -> list[InputItem]:
        for index, message in enumerate(messages):
            path = at("messages", index)
            content = message.get("content")
            blocks: list[Any] = (
                [{"type": "text", "text": content}] if isinstance(content, str) else content or []
            )
            if message["role"] == "system":
                self._system(blocks, at(path, "content"))
            elif message["role"] == "user":
                self._user(blocks, at(path, "content"))
            else:
                self._assistant(blocks, at(path, "content"))
        return self.items

    def _system(self, blocks: list[Any], path: str) -> None:
        parts: list[InputPart] = []
        for index, item in enumerate(blocks):
            block_path = at(path, index)
            block, kind = block_type(item, block_path, SYSTEM_BLOCKS, "system messages")
            text = self._text(block, block_path) if kind == "text" else history_text(block, kind)
            if text:
                parts.append(input_text(text))
        if parts:
            self.items.append({"type": "message", "role": "developer", "content": parts})

    def _user(self, blocks: list[Any], path: str) -> None:
        parts: list[InputPart] = []
        for index, item in enumerate(blocks):
            block_path = at(path, index)
            block, kind = block_type(item, block_path, USER_BLOCKS, "user messages")
            if kind == "tool_result":
                self.items.append(self._tool_result(block, block_path))
            elif kind == "image":
                parts.append(image_part(block, block_path))
            elif kind == "document":
                parts.extend(document_parts(block, block_path))
            elif text := self._block_text(block, kind, block_path):
                parts.append(input_text(text))
        if parts:
            self.items.append({"type": "message", "role": "user", "content": parts})

    def _assistant(self, blocks: list[Any], path: str) -> None:
        pending: list[OutputTextPart] = []

        def flush() -> None:
            if pending:
                self.items.append({"type": "message", "role": "assistant", "content": list(pending)})
                pending.clear()

        for index, item in enumerate(blocks):
            block_path = at(path, index)
            block, kind = block_type(item, block_path, ASSISTANT_BLOCKS, "assistant messages")
            if kind == "tool_use":
                flush()
                self.items.append(self._tool_use(block, block_path))
            elif kind in ("thinking", "redacted_thinking"):
                if reasoning := self._reasoning(block, kind, block_path):
                    flush()
                    self.items.append(reasoning)
            elif text := self._block_text(block, kind, block_path):
                pending.append(output_text(text))
        flush()

    def _text(self, block: dict[str, Any], path: str) -> str:
        return expect_str(require(block, "text", path), at(path, "text"))

    def _block_text(self, block: dict[str, Any], kind: str, path: str) -> str:
        if kind == "text":
            return self._text(block, path)
        if kind == "search_result":
            return search_result_text(block, path)
        return history_text(block, kind)

    def _tool_use(self, block: dict[str, Any], path: str) -> FunctionCallItem:
        tool_id = expect_str(require(block, "id", path), at(path, "id"), non_empty=True)
        name = expect_str(require(block, "name", path), at(path, "name"), non_empty=True)
        arguments = expect_object(require(block, "input", path), at(path, "input"))
        self.tool_use_names.append(name)
        call_id = ids.call_id(tool_id)
        self._call_ids.add(call_id)
        return {
            "type": "function_call",
            "call_id": call_id,
            "name": ids.upstream_tool_name(name),
            "arguments": json.dumps(arguments, ensure_ascii=False, separators=(",", ":")),
        }

    def _tool_result(self, block: dict[str, Any], path: str) -> FunctionCallOutputItem:
        id_path = at(path, "tool_use_id")
        call_id = ids.call_id(expect_str(require(block, "tool_use_id", path), id_path, non_empty=True))
        if call_id not in self._call_ids:
            raise invalid(id_path, "no tool_use block with this id appears in an earlier assistant message")
        is_error = block.get("is_error") is not None and expect_bool(block["is_error"], at(path, "is_error"))
        output = tool_result_output(block.get("content"), at(path, "content"), is_error=is_error)
        return {"type": "function_call_output", "call_id": call_id, "output": output}

    def _reasoning(self, block: dict[str, Any], kind: str, path: str) -> ReasoningItem | None:
        if kind == "thinking":
            text = expect_str(require(block, "thinking", path), at(path, "thinking"))
            sealed = expect_str(require(block, "signature", path), at(path, "signature"))
        else:
            text, sealed = "", expect_str(require(block, "data", path), at(path, "data"))
        ref = open_signature(sealed, self.signing_key, model=self.upstream_model)
        if ref is None or not self.keep_reasoning:
            return None
        summary: list[Any] = [{"type": "summary_text", "text": text}] if text else []
        return {"type": "reasoning", "summary": summary, "encrypted_content": ref.encrypted_content}
