"""Responses stream events -> Anthropic stream events (protocol.md C.8): a pure state machine.

``feed(event)`` takes one decoded upstream event (``{"event": name, "data": parsed JSON}``) and returns
the finished Anthropic SSE frames it produces, in order; ``finish()`` is called at upstream EOF and
``fail(error)`` when the transport breaks. Dispatch is on ``data["type"]``, never on the SSE event name.

Invariants the SDKs depend on (A.6): ``message_start`` first; block indices 0..n-1 in start order; one
block open at a time; deltas and stops only for the open block; then ``message_delta`` (all four usage
numbers) + ``message_stop``, or a single ``event: error`` and nothing after it.

How that is kept:
- One upstream output item streams at a time. Events of another item that arrive while one is active
  (recorded streams never interleave, the API does not promise it) wait in ``_pending`` until the active
  item's ``output_item.done`` (or the terminal event), then replay in ``output_index`` order.
- Block framing (indices, the one open block, delta and stop frames) is ``translate.blocks.BlockWriter``.
  Blocks open lazily, on the first text to show: a part that ends empty leaves no empty block (the
  non-streaming path drops empty text too), and text held back by a stop-sequence filter has a home.
- Reasoning items become thinking blocks in ``translate.stream_thinking``; this module parses their
  events and passes on the output index, part key and text.
- Every ``*.done`` event is reconciled with what the deltas delivered: a remainder (or the whole value,
  from servers that send no deltas) is emitted as one more delta, so concatenated ``partial_json``
  is exactly the upstream arguments. Items the terminal response carries but whose
  ``output_item.done`` never came (cut short, or never streamed) are finished from it the same way.
- Finished-output facts (usage, stop reason, ids, tool and thinking blocks, signatures) come from
  ``translate.response``; nothing is computed twice.
- Web search calls and citations (only when the request declared the tool) are written by
  ``translate.stream_web_search``; ``*.done`` parts fill in annotations that had no event.

Decisions: after a stop-sequence match the translator ends the message itself and reports
``output_tokens`` as an estimate (characters streamed / 4, rounded up) and input usage as 0: the
upstream's usage arrives only with its terminal event, which the gateway no longer reads. Thinking text
streams both summary and raw ``reasoning_text`` deltas (parts separated by ``"\\n\\n"``); a server that
sent both would differ from the non-streaming text, which prefers the summary.

Cost (budget ~15 µs per upstream event for the whole gateway): one dict lookup to dispatch, an identity
check for the active part, and one frame per delta built from a per-block byte prefix plus one C-level
string escape (``streaming.translate.frames.encode_delta``); the stop-sequence filter runs only when the client set
stop sequences. No per-event JSON encoding of whole dicts, no regexes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from streaming.error_map import error_for_event, event_error_fields
from streaming.errors import BadGatewayError, GatewayError, envelope
from streaming.translate.blocks import BlockWriter, Frames, TextPart, ToolPart, remainder
from streaming.translate.context import RequestContext
from streaming.translate.frames import MESSAGE_STOP, encode_event
from streaming.translate.response import (
    anthropic_message_id,
    incomplete_reason,
    message_skeleton,
    message_usage,
    stop_reason_for,
    tool_use_start,
)
from streaming.translate.stopseq import StopMatcher, StopSequences
from streaming.translate.stream_thinking import ThinkingStream
from streaming.translate.stream_web_search import WebSearchStream
from streaming.translate.types import StopReason, Usage

Event = Mapping[str, Any]

_ITEM_DONE = "response.output_item.done"
_ERROR_EVENTS = frozenset({"error", "response.failed"})
_ENDED_EARLY = "upstream stream ended unexpectedly"


def _message_delta(stop_reason: StopReason, stop_sequence: str | None, usage: Usage) -> bytes:
    return encode_event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
            "usage": usage,
        },
    )


def _output_index(data: Event) -> int | None:
    """The event's ``output_index``; anything but an int (a list, a float, a bool) counts as absent.

    Indices key dicts and order items, so an odd value must never reach them (unhashable, or ``True == 1``).
    """
    value = data.get("output_index")
    return value if type(value) is int else None


def _index(data: Event, field: str) -> int:
    """A part index; servers that leave it out (or send a non-int) have one part (index 0), as the item shows."""
    value = data.get(field)
    return value if type(value) is int else 0


def _text_key(data: Event) -> tuple[int | None, int]:
    return _output_index(data), _index(data, "content_index")


class StreamTranslator:
    """Upstream Responses events in, Anthropic SSE frames out; see the module docstring."""

    def __init__(
        self, context: RequestContext, request_id: str | None = None, *, secrets: Iterable[str | None] = ()
    ) -> None:
        """``request_id`` goes into error frames; ``secrets`` (the upstream key) are redacted from them."""
        self._context = context
        self._request_id = request_id
        self._secrets = tuple(secrets)
        self._stop_sequences = StopSequences(context.stop_sequences)  # compiled once, shared by all parts
        self._started = False
        self._done = False
        self._upstream_finished = False
        self._error: GatewayError | None = None
        self._blocks = BlockWriter()
        self._texts: dict[tuple[int | None, int], TextPart] = {}
        self._tools: dict[int | None, ToolPart] = {}
        self._thinking = ThinkingStream(context, self._blocks)
        self._active: int | None = None  # output_index of the item streaming now
        self._pending: dict[int, list[Event]] = {}
        self._finished: set[int] = set()
        self._tool_use = False
        self._refusal = False
        self._search = WebSearchStream(self._blocks) if context.web_search else None
        self._stop_reason: StopReason | None = None
        self._usage: Usage | None = None

    @property
    def started(self) -> bool:
        """``message_start`` was emitted (before it, an error can still be a plain HTTP error)."""
        return self._started

    @property
    def done(self) -> bool:
        """The client stream is complete (``message_stop`` or ``error`` emitted): stop reading upstream."""
        return self._done

    @property
    def upstream_finished(self) -> bool:
        """The upstream sent its terminal event (completed, incomplete, failed, error): only its EOF follows.

        Reading on to that EOF gives the pooled connection back; a stream cut short here (a stop sequence)
        has an upstream still talking, which must be closed instead.
        """
        return self._upstream_finished

    @property
    def error(self) -> GatewayError | None:
        """The error that ended the stream, if one did."""
        return self._error

    @property
    def stop_reason(self) -> StopReason | None:
        """The stop reason sent in ``message_delta`` (None until then)."""
        return self._stop_reason

    @property
    def usage(self) -> Usage | None:
        """The usage sent in ``message_delta`` (None until then)."""
        return self._usage

    # -- entry points -------------------------------------------------------------------------

    def feed(self, event: Mapping[str, Any]) -> Frames:
        """The Anthropic frames for one upstream event (often none)."""
        if self._done:
            return []
        data = event.get("data")
        if not isinstance(data, dict):
            return self.fail(BadGatewayError("The upstream sent an event that is not valid JSON."))
        kind = data.get("type")
        handler = _HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return []  # unknown and ping-like events
        out: Frames = []
        if not self._started and kind not in _ERROR_EVENTS:
            self._start_message(data, out)
        output_index = data.get("output_index")
        if type(output_index) is not int:  # response-level events, servers without indices, odd values
            handler(self, data, out)
            return out
        if output_index in self._finished:  # a late event for an item that already ended
            handler(self, data, out)
            return out
        if self._active is None:
            self._active = output_index
        elif output_index != self._active:
            self._pending.setdefault(output_index, []).append(data)
            return out
        handler(self, data, out)
        if kind == _ITEM_DONE and not self._done:
            self._finished.add(output_index)
            self._active = None
            self._drain(out, everything=False)
        return out

    def finish(self) -> Frames:
        """Frames at upstream EOF: nothing after a terminal event, else an ``api_error``."""
        if self._done:
            return []
        return self.fail(BadGatewayError(_ENDED_EARLY))

    def fail(self, error: GatewayError) -> Frames:
        """The ``event: error`` frame that ends the stream (nothing more follows)."""
        if self._done:
            return []
        out: Frames = []
        self._end_with_error(error, out)
        return out

    # -- message level --------------------------------------------------------------------------

    def _start_message(self, data: Event, out: Frames) -> None:
        response = data.get("response")
        msg_id = anthropic_message_id(response if isinstance(response, Mapping) else {})
        message = message_skeleton(msg_id, self._context)
        out.append(encode_event("message_start", {"type": "message_start", "message": message}))
        self._started = True

    def _end_message(
        self, stop_reason: StopReason, stop_sequence: str | None, usage: Usage, out: Frames
    ) -> None:
        out.append(_message_delta(stop_reason, stop_sequence, usage))
        out.append(MESSAGE_STOP)
        self._stop_reason, self._usage = stop_reason, usage
        self._done = True

    def _end_with_error(self, error: GatewayError, out: Frames) -> None:
        out.append(encode_event("error", envelope(error, self._request_id)))
        self._error = error
        self._done = True

    def _drain(self, out: Frames, *, everything: bool) -> None:
        """Replay events of items that waited while another item streamed, lowest output_index first."""
        while self._pending and not self._done and (everything or self._active is None):
            output_index = min(self._pending)
            self._active = output_index
            for data in self._pending.pop(output_index):
                _HANDLERS[data["type"]](self, data, out)
                if self._done:
                    return
                if data["type"] == _ITEM_DONE:
                    self._finished.add(output_index)
                    self._active = None

    def _on_terminal(self, data: Event, out: Frames) -> None:
        self._upstream_finished = True
        response = data.get("response")
        if not isinstance(response, Mapping):
            response = {}
        self._drain(out, everything=True)
        self._active = None
        # Items that never got their ``output_item.done`` (cut short by the token limit, or servers that
        # stream no item events): finish them from the terminal response; reconciling makes this safe.
        output = response.get("output")
        for output_index, item in enumerate(output if isinstance(output, list) else ()):
            if output_index not in self._finished and isinstance(item, Mapping) and not self._done:
                self._on_item_done({"output_index": output_index, "item": item}, out)
                self._finished.add(output_index)
        self._blocks.finish_current(out)
        if self._done:
            return
        status = response.get("status") or (
            "incomplete" if data.get("type") == "response.incomplete" else "completed"
        )
        stop_reason = stop_reason_for(
            status, incomplete_reason(response), tool_use=self._tool_use, refusal=self._refusal
        )
        usage = message_usage(response.get("usage"), self._context, self._searched_count())
        self._end_message(stop_reason, None, usage, out)

    def _on_failed(self, data: Event, out: Frames) -> None:
        self._upstream_finished = True
        response = data.get("response")
        error = response.get("error") if isinstance(response, Mapping) else None
        error = error if isinstance(error, Mapping) else {}
        self._end_with_error(error_for_event(error, secrets=self._secrets), out)

    def _on_error(self, data: Event, out: Frames) -> None:
        self._upstream_finished = True
        self._end_with_error(error_for_event(event_error_fields(data), secrets=self._secrets), out)

    def _on_nothing(self, data: Event, out: Frames) -> None:
        """Known events with nothing to say (the message start is handled by ``feed``)."""

    # -- text and refusals --------------------------------------------------------------------

    def _text_part(self, data: Event) -> TextPart:
        key = _text_key(data)
        part = self._texts.get(key)
        if part is None or part.closed:
            matcher = StopMatcher(self._stop_sequences) if self._stop_sequences else None
            part = self._texts[key] = TextPart(key[0], matcher)
        return part

    def _text(self, part: TextPart, text: str, out: Frames) -> None:
        if not text:
            return
        self._blocks.activate(part, out)
        part.received.append(text)
        if part.matcher is not None:
            text, matched = part.matcher.feed(text)
            if matched is not None:
                self._stop_at_sequence(part, text, matched, out)
                return
        if text:
            self._blocks.text(part, text, out)

    def _stop_at_sequence(self, part: TextPart, before: str, sequence: str, out: Frames) -> None:
        if before:
            self._blocks.text(part, before, out)
        self._blocks.close(part, out)
        estimate = {"output_tokens": (self._blocks.chars + 3) // 4}
        usage = message_usage(estimate, self._context, self._searched_count())
        self._end_message("stop_sequence", sequence, usage, out)

    def _reconcile_text(self, data: Event, full: object, out: Frames) -> None:
        part = self._texts.get(_text_key(data))
        if part is None:
            part = self._text_part(data)
        elif part.closed:
            return
        self._text(part, remainder(part.received, full), out)

    def _on_text_delta(self, data: Event, out: Frames) -> None:
        delta = data.get("delta")
        if isinstance(delta, str):
            self._text(self._text_part(data), delta, out)

    def _on_refusal_delta(self, data: Event, out: Frames) -> None:
        self._refusal = True
        self._on_text_delta(data, out)

    def _on_text_done(self, data: Event, out: Frames) -> None:
        self._reconcile_text(data, data.get("text"), out)

    def _on_refusal_done(self, data: Event, out: Frames) -> None:
        self._refusal = True
        self._reconcile_text(data, data.get("refusal"), out)

    def _on_part_added(self, data: Event, out: Frames) -> None:
        part = data.get("part")
        if isinstance(part, Mapping) and part.get("type") == "refusal":
            self._refusal = True

    def _on_part_done(self, data: Event, out: Frames) -> None:
        part = data.get("part")
        if not isinstance(part, Mapping) or part.get("type") not in ("output_text", "refusal"):
            return
        refusal = part.get("type") == "refusal"
        self._refusal = self._refusal or refusal
        self._reconcile_text(data, part.get("refusal" if refusal else "text"), out)
        text_part = self._texts.get(_text_key(data))
        annotations = part.get("annotations")
        if self._search is not None and text_part is not None and isinstance(annotations, list):
            for index, annotation in enumerate(annotations):
                self._search.annotation(text_part, annotation, index, out)
        if text_part is not None and self._blocks.current is text_part and not self._done:
            self._blocks.finish_current(out)

    def _message_done(self, data: Event, item: Event, out: Frames) -> None:
        content = item.get("content")
        for content_index, part in enumerate(content if isinstance(content, list) else ()):
            if self._done:
                return
            if isinstance(part, Mapping) and part.get("type") in ("output_text", "refusal"):
                self._on_part_done({**data, "content_index": content_index, "part": part}, out)
        current = self._blocks.current
        if isinstance(current, TextPart) and current.output_index == _output_index(data) and not self._done:
            self._blocks.finish_current(out)

    # -- web search (streaming.translate.stream_web_search) -------------------------------------

    def _searched_count(self) -> int:
        return self._search.searches if self._search is not None else 0

    def _on_annotation(self, data: Event, out: Frames) -> None:
        if self._search is None:
            return
        part = self._texts.get(_text_key(data)) or self._text_part(data)
        index = data.get("annotation_index")
        self._search.annotation(part, data.get("annotation"), index if type(index) is int else None, out)

    # -- function calls -----------------------------------------------------------------------

    def _tool_part(self, data: Event) -> ToolPart:
        output_index = _output_index(data)
        part = self._tools.get(output_index)
        if part is None:
            part = self._tools[output_index] = ToolPart()
        return part

    def _start_tool(self, part: ToolPart, item: Event, out: Frames) -> None:
        part.item = item
        self._blocks.start(part, tool_use_start(item, self._context), "input_json_delta", out)
        self._tool_use = True
        if arguments := "".join(part.received):
            self._blocks.delta(part, arguments, out)

    def _arguments(self, part: ToolPart, arguments: str, out: Frames) -> None:
        if not arguments or part.closed:
            return
        self._blocks.activate(part, out)
        part.received.append(arguments)
        if part.index is not None:
            self._blocks.delta(part, arguments, out)

    def _on_arguments_delta(self, data: Event, out: Frames) -> None:
        delta = data.get("delta")
        if isinstance(delta, str):
            self._arguments(self._tool_part(data), delta, out)

    def _on_arguments_done(self, data: Event, out: Frames) -> None:
        part = self._tool_part(data)
        self._arguments(part, remainder(part.received, data.get("arguments")), out)

    def _tool_done(self, data: Event, item: Event, out: Frames) -> None:
        part = self._tool_part(data)
        if part.closed:
            return
        self._arguments(part, remainder(part.received, item.get("arguments")), out)
        if part.index is None:
            self._start_tool(part, item, out)
        self._blocks.close(part, out)

    # -- reasoning (streaming.translate.stream_thinking) --------------------------------------

    def _on_summary_delta(self, data: Event, out: Frames) -> None:
        delta = data.get("delta")
        if isinstance(delta, str):
            self._thinking.delta(_output_index(data), ("s", _index(data, "summary_index")), delta, out)

    def _on_reasoning_text_delta(self, data: Event, out: Frames) -> None:
        delta = data.get("delta")
        if isinstance(delta, str):
            self._thinking.delta(_output_index(data), ("c", _index(data, "content_index")), delta, out)

    def _on_summary_text_done(self, data: Event, out: Frames) -> None:
        key = ("s", _index(data, "summary_index"))
        self._thinking.reconcile(_output_index(data), key, data.get("text"), out)

    def _on_summary_part_done(self, data: Event, out: Frames) -> None:
        part = data.get("part")
        text = part.get("text") if isinstance(part, Mapping) else None
        self._thinking.reconcile(_output_index(data), ("s", _index(data, "summary_index")), text, out)

    def _on_reasoning_text_done(self, data: Event, out: Frames) -> None:
        key = ("c", _index(data, "content_index"))
        self._thinking.reconcile(_output_index(data), key, data.get("text"), out)

    # -- items --------------------------------------------------------------------------------

    def _on_item_added(self, data: Event, out: Frames) -> None:
        item = data.get("item")
        if not isinstance(item, Mapping):
            return
        kind = item.get("type")
        if kind == "function_call":
            part = self._tool_part(data)
            if part.index is None and not part.closed:
                self._blocks.activate(part, out)
                self._start_tool(part, item, out)
                self._arguments(part, remainder(part.received, item.get("arguments")), out)

    def _on_item_done(self, data: Event, out: Frames) -> None:
        item = data.get("item")
        if not isinstance(item, Mapping):
            return
        kind = item.get("type")
        if kind == "message":
            self._message_done(data, item, out)
        elif kind == "function_call":
            self._tool_done(data, item, out)
        elif kind == "reasoning":
            self._thinking.item_done(_output_index(data), item, out)
        elif kind == "web_search_call" and self._search is not None:
            self._search.item_done(_output_index(data), item, out)


_Handler = Callable[[StreamTranslator, Event, Frames], None]

_HANDLERS: dict[str, _Handler] = {
    "response.created": StreamTranslator._on_nothing,
    "response.in_progress": StreamTranslator._on_nothing,
    "response.queued": StreamTranslator._on_nothing,
    "response.output_item.added": StreamTranslator._on_item_added,
    "response.output_item.done": StreamTranslator._on_item_done,
    "response.content_part.added": StreamTranslator._on_part_added,
    "response.content_part.done": StreamTranslator._on_part_done,
    "response.output_text.delta": StreamTranslator._on_text_delta,
    "response.output_text.done": StreamTranslator._on_text_done,
    "response.refusal.delta": StreamTranslator._on_refusal_delta,
    "response.refusal.done": StreamTranslator._on_refusal_done,
    "response.function_call_arguments.delta": StreamTranslator._on_arguments_delta,
    "response.function_call_arguments.done": StreamTranslator._on_arguments_done,
    "response.reasoning_summary_text.delta": StreamTranslator._on_summary_delta,
    "response.reasoning_summary_text.done": StreamTranslator._on_summary_text_done,
    "response.reasoning_summary_part.done": StreamTranslator._on_summary_part_done,
    "response.reasoning_text.delta": StreamTranslator._on_reasoning_text_delta,
    "response.reasoning_text.done": StreamTranslator._on_reasoning_text_done,
    "response.output_text.annotation.added": StreamTranslator._on_annotation,
    "response.web_search_call.in_progress": StreamTranslator._on_nothing,
    "response.web_search_call.searching": StreamTranslator._on_nothing,
    "response.web_search_call.completed": StreamTranslator._on_nothing,
    "response.completed": StreamTranslator._on_terminal,
    "response.incomplete": StreamTranslator._on_terminal,
    "response.failed": StreamTranslator._on_failed,
    "error": StreamTranslator._on_error,
}
