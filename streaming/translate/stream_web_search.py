"""Web search calls and citations, while streaming (protocol.md C.8; the mapping is ``translate.web_search``). Pure.

A ``web_search_call``'s ``output_item.done`` is the first event that carries its query and sources: it
becomes a ``server_tool_use`` block (``input: {}`` at its start, the query as one ``input_json_delta``,
as Anthropic streams it) and a ``web_search_tool_result`` block, whole at its start. A ``url_citation``
annotation becomes a ``citations_delta`` of its text block (``translate.blocks`` says when one waits).
Results take titles only from citations streamed before them: later ones are not known yet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from streaming.translate.blocks import BlockWriter, Frames, Part, TextPart
from streaming.translate.web_search import citation, learn_title, search_blocks, search_failed


class WebSearchStream:
    """The searches and citations of one response, written through the shared BlockWriter."""

    __slots__ = ("_blocks", "_searched", "_titles", "searches")

    def __init__(self, blocks: BlockWriter) -> None:
        self._blocks = blocks
        self._titles: dict[str, str] = {}  # citation titles streamed so far, by url_key
        self._searched: set[int | None] = set()  # output indices already sent
        self.searches = 0  # searches that did not fail, for usage

    def annotation(self, part: TextPart, annotation: object, index: int | None, out: Frames) -> None:
        """One upstream annotation of ``part``, once: a repeat (from a ``*.done`` part) has a lower index."""
        if index is None:
            index = part.annotations_seen
        elif index < part.annotations_seen:
            return
        part.annotations_seen = index + 1
        learn_title(self._titles, annotation)
        if (found := citation(annotation, "".join(part.received))) is not None:
            self._blocks.citation(part, found, out)

    def item_done(self, output_index: int | None, item: Mapping[str, Any], out: Frames) -> None:
        """The finished search call: its two blocks (nothing for other web actions, or a repeat)."""
        if output_index in self._searched:
            return
        self._searched.add(output_index)
        found = search_blocks(item, self._titles)
        if found is None:
            return
        use, result = found
        part = Part()
        self._blocks.start(part, {**use, "input": {}}, "input_json_delta", out)
        self._blocks.delta(part, json.dumps(use["input"], ensure_ascii=False, separators=(",", ":")), out)
        self._blocks.close(part, out)
        self._blocks.complete(result, out)
        self.searches += not search_failed(item)
