"""Reasoning items -> one thinking block each, while streaming (protocol.md C.8). Pure.

Summary (``"s"``) and raw reasoning text (``"c"``) deltas stream as ``thinking_delta``s, parts separated
by ``"\\n\\n"``, only when the client asked for summarized thinking. At ``output_item.done`` the block
gets what the deltas missed and its signature (the HMAC'd envelope of the upstream reasoning item,
``translate.signature``); a reasoning item that streamed nothing becomes the finished block from
``translate.response``, so streamed and non-streamed thinking are the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streaming.translate.blocks import THINKING_START, BlockWriter, Frames, ReasoningPart, remainder
from streaming.translate.context import RequestContext
from streaming.translate.response import THINKING_PART_SEPARATOR, reasoning_block, reasoning_signature

PartKey = tuple[str, int]
"""``("s", summary_index)`` or ``("c", content_index)``."""


class ThinkingStream:
    """The reasoning items of one response, by ``output_index``, written through the shared BlockWriter."""

    __slots__ = ("_blocks", "_context", "_parts", "_summarize")

    def __init__(self, context: RequestContext, blocks: BlockWriter) -> None:
        self._context = context
        self._blocks = blocks
        self._summarize = context.thinking and context.thinking_display != "omitted"
        self._parts: dict[int | None, ReasoningPart] = {}

    def _part(self, output_index: int | None) -> ReasoningPart:
        part = self._parts.get(output_index)
        if part is None:
            part = self._parts[output_index] = ReasoningPart()
        return part

    def _write(self, part: ReasoningPart, key: PartKey, text: str, out: Frames) -> None:
        if not text or part.closed:
            return
        blocks = self._blocks
        blocks.activate(part, out)
        part.texts.setdefault(key, []).append(text)
        if part.index is None:
            blocks.start(part, THINKING_START, "thinking_delta", out)
        if part.last_key != key:
            if part.last_key is not None:
                blocks.delta(part, THINKING_PART_SEPARATOR, out)
            part.last_key = key
        blocks.delta(part, text, out)

    def delta(self, output_index: int | None, key: PartKey, text: str, out: Frames) -> None:
        """A summary or reasoning-text delta."""
        if self._summarize:
            self._write(self._part(output_index), key, text, out)

    def reconcile(self, output_index: int | None, key: PartKey, full: object, out: Frames) -> None:
        """A ``*.done`` value for one part: stream whatever its deltas did not deliver."""
        if self._summarize:
            part = self._part(output_index)
            self._write(part, key, remainder(part.texts.get(key, []), full), out)

    def item_done(self, output_index: int | None, item: Mapping[str, Any], out: Frames) -> None:
        """The finished reasoning item: reconcile every part, add the signature, close the block."""
        if not self._context.thinking:
            return
        part = self._part(output_index)
        if part.closed:
            return
        blocks = self._blocks
        if part.index is None:
            # Nothing streamed (display omitted, no summary, or a server without deltas): the finished block.
            block = reasoning_block(item, self._context)
            if block is None:
                part.closed = True
                return
            if block["type"] == "redacted_thinking":
                blocks.start(part, block, "thinking_delta", out)
                blocks.close(part, out)
                return
            blocks.start(part, THINKING_START, "thinking_delta", out)
            if block["thinking"]:
                blocks.delta(part, block["thinking"], out)
            signature = block["signature"]
        else:
            for kind, field in (("s", "summary"), ("c", "content")):
                parts = item.get(field)
                if kind == "c" and not any(key[0] == "c" for key in part.texts):
                    continue
                for index, piece in enumerate(parts if isinstance(parts, list) else ()):
                    text = piece.get("text") if isinstance(piece, Mapping) else None
                    self._write(part, (kind, index), remainder(part.texts.get((kind, index), []), text), out)
            signature = reasoning_signature(item, self._context)
        if signature:
            blocks.signature(part, signature, out)
        blocks.close(part, out)
