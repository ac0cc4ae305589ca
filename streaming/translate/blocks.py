"""Anthropic content-block framing for the stream translator: the block grammar the SDKs rely on (A.6).

Block indices run 0..n-1 in start order, one block is open at a time, and deltas and stops go only to
the open block. ``BlockWriter`` keeps that for ``StreamTranslator``: a part becomes current (closing the
previous one), starts its block lazily on the first thing to show, sends deltas through a per-block
byte prefix (``streaming.translate.frames.encode_delta``: no per-delta JSON encoding) and closes exactly once.
Parts also keep what the upstream sent so far, to reconcile with the ``*.done`` values. Text parts hold
their web search citations until the block has started (and, when stop sequences are set, until it
ends: a block cut at a stop sequence drops them, as the non-streaming answer does). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streaming.translate.frames import delta_prefix, encode_delta, encode_event
from streaming.translate.stopseq import StopMatcher
from streaming.translate.types import WebSearchCitation

Frames = list[bytes]

TEXT_START = {"type": "text", "text": ""}
THINKING_START = {"type": "thinking", "thinking": "", "signature": ""}
_STOP_FRAME = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n'
_DELTA_FIELDS = {
    "text_delta": "text",
    "input_json_delta": "partial_json",
    "thinking_delta": "thinking",
}


class Part:
    """One upstream part and the Anthropic block it becomes (``index`` None until the block starts)."""

    __slots__ = ("closed", "index", "prefix", "received")

    def __init__(self) -> None:
        self.index: int | None = None
        self.prefix = b""
        self.closed = False
        self.received: list[str] = []  # upstream text so far, to reconcile with ``*.done`` values


class TextPart(Part):
    """An ``output_text`` or ``refusal`` content part; ``matcher`` holds back text that may start a stop sequence."""

    __slots__ = ("annotations_seen", "citations", "matcher", "output_index")

    def __init__(self, output_index: int | None, matcher: StopMatcher | None) -> None:
        super().__init__()
        self.output_index = output_index
        self.matcher = matcher
        self.citations: list[WebSearchCitation] = []  # not sent yet (see the module docstring)
        self.annotations_seen = 0  # upstream annotations handled, to reconcile with ``*.done`` parts


class ToolPart(Part):
    """A ``function_call`` item; its block starts once the item (name, call id) is known."""

    __slots__ = ("item",)

    def __init__(self) -> None:
        super().__init__()
        self.item: Mapping[str, Any] | None = None


class ReasoningPart(Part):
    """A ``reasoning`` item: one thinking block for all its summary (``"s"``) and text (``"c"``) parts."""

    __slots__ = ("last_key", "texts")

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[tuple[str, int], list[str]] = {}  # ("s", summary_index) / ("c", content_index)
        self.last_key: tuple[str, int] | None = None


def remainder(received: list[str], full: object) -> str:
    """What ``full`` adds to the text received so far ("" when nothing, or when they disagree)."""
    if not isinstance(full, str) or not full:
        return ""
    got = "".join(received)
    return full[len(got) :] if len(full) > len(got) and full.startswith(got) else ""


class BlockWriter:
    """Allocates block indices and owns the one open block; ``chars`` counts the characters streamed."""

    __slots__ = ("_next_index", "chars", "current")

    def __init__(self) -> None:
        self._next_index = 0
        self.current: Part | None = None
        self.chars = 0

    def activate(self, part: Part, out: Frames) -> None:
        """Make ``part`` the one that owns the output, finishing the previous one."""
        if self.current is not part:
            self.finish_current(out)
            self.current = part

    def start(self, part: Part, block: Mapping[str, Any], delta_type: str, out: Frames) -> None:
        """``content_block_start`` for ``part`` at the next index."""
        self.activate(part, out)
        index = part.index = self._open(block, out)
        part.prefix = delta_prefix(index, delta_type, _DELTA_FIELDS[delta_type])

    def complete(self, block: Mapping[str, Any], out: Frames) -> None:
        """A block that is whole at its start (a web search result): start and stop, no deltas."""
        self.finish_current(out)
        out.append(_STOP_FRAME % self._open(block, out))

    def _open(self, block: Mapping[str, Any], out: Frames) -> int:
        index = self._next_index
        self._next_index += 1
        out.append(
            encode_event(
                "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
            )
        )
        return index

    def delta(self, part: Part, value: str, out: Frames) -> None:
        out.append(encode_delta(part.prefix, value))
        self.chars += len(value)

    def text(self, part: TextPart, text: str, out: Frames) -> None:
        """A text delta, opening the text block first if this is its first text."""
        if part.index is None:
            self.start(part, TEXT_START, "text_delta", out)
            if part.citations and part.matcher is None:
                self.flush_citations(part, out)
        self.delta(part, text, out)

    def citation(self, part: TextPart, citation: WebSearchCitation, out: Frames) -> None:
        """A ``citations_delta`` for the text block now, or kept until it may be sent (module docstring)."""
        if part.closed:
            return
        if part.index is None or part.matcher is not None:
            part.citations.append(citation)
            return
        self.activate(part, out)
        self._citation_frame(part.index, citation, out)

    def flush_citations(self, part: TextPart, out: Frames) -> None:
        if part.index is not None:
            for citation in part.citations:
                self._citation_frame(part.index, citation, out)
        part.citations.clear()

    def _citation_frame(self, index: int, citation: WebSearchCitation, out: Frames) -> None:
        delta = {"type": "citations_delta", "citation": citation}
        out.append(
            encode_event(
                "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
            )
        )

    def signature(self, part: ReasoningPart, signature: str, out: Frames) -> None:
        """The thinking block's ``signature_delta`` (sent last, just before the block stops)."""
        self.activate(part, out)
        out.append(encode_delta(delta_prefix(part.index or 0, "signature_delta", "signature"), signature))

    def close(self, part: Part, out: Frames) -> None:
        """``content_block_stop`` once, if the block ever started; the part takes no more output."""
        if part.index is not None and not part.closed:
            out.append(_STOP_FRAME % part.index)
        part.closed = True
        if self.current is part:
            self.current = None

    def finish_current(self, out: Frames) -> None:
        """End the part that owns the output: release held-back text, close its block."""
        part = self.current
        if part is None:
            return
        if isinstance(part, TextPart):
            if part.matcher is not None and (held := part.matcher.flush()):
                self.text(part, held, out)
            if part.citations:
                self.flush_citations(part, out)
        self.close(part, out)
