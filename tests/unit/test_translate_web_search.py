"""Upstream web searches -> Anthropic web search blocks, citations and usage, non-streaming and streaming.

Shapes are checked against the anthropic SDK's types (``Message``, ``RawMessageStreamEvent``) and the
streams replayed through its ``messages.stream()`` accumulator.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pydantic
import pytest
from anthropic.types import (
    CitationsWebSearchResultLocation,
    ServerToolUseBlock,
    TextBlock,
    WebSearchToolResultBlock,
)

from streaming.translate.context import RequestContext
from streaming.translate.response import response_to_message
from streaming.translate.stream import StreamTranslator
from tests.fakes.events import (
    final_response,
    message_item_events,
    reasoning_item_events,
    response_events,
    url_citation,
    usage_object,
    web_search_call_item,
    web_search_call_item_events,
    web_search_response_events,
)
from tests.unit.test_golden_fixtures import parse_sse, sdk_final_message

DOCS = "https://docs.djangoproject.com/en/5.2/topics/async/"
DOCS_CITED = DOCS + "?utm_source=openai"
BLOG = "https://www.example.com/blog/django-async"
LINK = "([docs.djangoproject.com](https://docs.djangoproject.com/en/5.2/topics/async/?utm_source=openai))"
TEXT = f"Django has supported async views since 3.1 {LINK}."
DOCS_TITLE = "Asynchronous support | Django documentation"
CITATION = url_citation(TEXT, LINK, DOCS_CITED, DOCS_TITLE)


def ctx(**overrides: Any) -> RequestContext:
    fields: dict[str, Any] = {
        "client_model": "claude-sonnet-4-6",
        "upstream_model": "gpt-5",
        "web_search": True,
    }
    return RequestContext(**{**fields, **overrides})


def searched(**options: Any) -> list[dict[str, Any]]:
    """One search finding the docs and a blog post, then an answer citing the docs."""
    return web_search_response_events(
        "django async", [DOCS, BLOG], TEXT, [CITATION], search_id="ws_abc", response_id="resp_1", **options
    )


def message(events: list[dict[str, Any]], context: RequestContext | None = None) -> dict[str, Any]:
    return dict(response_to_message(final_response(events), context or ctx()))


def stream(events: list[dict[str, Any]], context: RequestContext | None = None) -> bytes:
    translator = StreamTranslator(context or ctx())
    frames: list[bytes] = []
    for event in events:
        frames += translator.feed({"event": event["type"], "data": event})
    return b"".join(frames + translator.finish())


def produced(events: list[dict[str, Any]], context: RequestContext | None = None) -> list[tuple[str, Any]]:
    return [(e["event"], json.loads(e["data"])) for e in parse_sse(stream(events, context).decode())]


def result(url: str, title: str) -> dict[str, Any]:
    return {
        "type": "web_search_result",
        "url": url,
        "title": title,
        "encrypted_content": "",
        "page_age": None,
    }


DOCS_CITATION = {
    "type": "web_search_result_location",
    "url": DOCS_CITED,
    "title": DOCS_TITLE,
    "encrypted_index": "",
    "cited_text": LINK,
}
USE = {
    "type": "server_tool_use",
    "id": "srvtoolu_abc",
    "name": "web_search",
    "input": {"query": "django async"},
}


# --- non-streaming -------------------------------------------------------------------------------------------------


def test_a_search_and_its_cited_answer_become_anthropics_web_search_blocks() -> None:
    assert message(searched())["content"] == [
        USE,
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_abc",
            "content": [result(DOCS, DOCS_TITLE), result(BLOG, "example.com/blog/django-async")],
        },
        {"type": "text", "text": TEXT, "citations": [DOCS_CITATION]},
    ]


def test_the_message_is_what_the_sdk_types_describe() -> None:
    parsed = anthropic.types.Message.model_validate(message(searched()))

    use, found, text = parsed.content
    assert isinstance(use, ServerToolUseBlock) and use.input == {"query": "django async"}
    assert isinstance(found, WebSearchToolResultBlock) and [r.url for r in found.content] == [DOCS, BLOG]  # type: ignore[union-attr]
    assert isinstance(text, TextBlock) and isinstance(text.citations[0], CitationsWebSearchResultLocation)  # type: ignore[index]
    assert parsed.usage.server_tool_use is not None
    assert parsed.usage.server_tool_use.web_search_requests == 1
    assert parsed.stop_reason == "end_turn"


def test_usage_counts_the_searches() -> None:
    assert message(searched())["usage"] == {
        "input_tokens": 1480,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 96,
        "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
    }


def test_with_the_tool_declared_but_no_search_usage_says_zero_searches() -> None:
    events = response_events(message_item_events("No need to search."))

    assert message(events)["usage"]["server_tool_use"] == {"web_search_requests": 0, "web_fetch_requests": 0}


def test_without_the_tool_declared_searches_and_citations_are_left_out() -> None:
    assert message(searched(), ctx(web_search=False))["content"] == [{"type": "text", "text": TEXT}]
    assert "server_tool_use" not in message(searched(), ctx(web_search=False))["usage"]


@pytest.mark.parametrize(
    ("url", "title"),
    [
        (DOCS, DOCS_TITLE),  # cited with ?utm_source=openai: the same page
        (DOCS.rstrip("/") + "#intro", DOCS_TITLE),  # no trailing slash, a fragment: still the same page
        ("https://www.example.com/blog/x/?page=2", "example.com/blog/x"),  # untitled: host and path, no www.
        ("https://example.com/", "example.com"),
        ("urn:isbn:0451450523", "urn:isbn:0451450523"),  # no host: the URL itself
    ],
)
def test_a_result_takes_its_title_from_a_citation_else_from_its_address(url: str, title: str) -> None:
    events = web_search_response_events("q", [url], TEXT, [CITATION], search_id="ws_1")

    assert message(events)["content"][1]["content"] == [result(url, title)]


def test_a_failed_search_gives_the_error_object_and_is_not_counted() -> None:
    events = response_events(
        web_search_call_item_events("q", [], item_id="ws_x", status="failed"),
        message_item_events("I could not search.", output_index=1),
    )

    content = message(events)["content"]

    assert content[1] == {
        "type": "web_search_tool_result",
        "tool_use_id": "srvtoolu_x",
        "content": {"type": "web_search_tool_result_error", "error_code": "unavailable"},
    }
    assert message(events)["usage"]["server_tool_use"]["web_search_requests"] == 0
    assert anthropic.types.Message.model_validate(message(events)).content[1].type == "web_search_tool_result"


@pytest.mark.parametrize(
    "action",
    [
        {"type": "open_page", "url": DOCS},
        {"type": "find_in_page", "url": DOCS, "pattern": "async"},
    ],
)
def test_page_opens_and_finds_are_upstream_browsing_steps_without_blocks(action: dict[str, Any]) -> None:
    item = {"id": "ws_open", "type": "web_search_call", "status": "completed", "action": action}
    body = {"status": "completed", "output": [item], "usage": usage_object()}

    result_message = response_to_message(body, ctx())

    assert result_message["content"] == []
    assert result_message["usage"]["server_tool_use"]["web_search_requests"] == 0


def test_several_queries_are_joined_into_the_query() -> None:
    item = {
        "id": "ws_1",
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "search", "queries": ["django async", "asgi"], "sources": []},
    }

    content = response_to_message({"output": [item]}, ctx())["content"]

    assert content[0]["input"] == {"query": "django async; asgi"}


def test_a_search_without_an_id_gets_a_fresh_server_tool_id_shared_by_both_blocks() -> None:
    item = {k: v for k, v in web_search_call_item("q", [DOCS]).items() if k != "id"}

    use, found = response_to_message({"output": [item]}, ctx())["content"]

    assert use["id"].startswith("srvtoolu_") and len(use["id"]) > len("srvtoolu_")
    assert found["tool_use_id"] == use["id"]


def test_a_stop_sequence_cut_drops_the_cut_blocks_citations() -> None:
    content = message(searched(), ctx(stop_sequences=("since",)))["content"]

    assert content[2] == {"type": "text", "text": "Django has supported async views "}


# --- streaming -----------------------------------------------------------------------------------------------------


def test_the_stream_is_anthropics_web_search_stream_event_for_event() -> None:
    events = produced(searched())
    text_deltas = [
        d["delta"]["text"] for n, d in events if n == "content_block_delta" and "text" in d["delta"]
    ]

    assert [
        (name, data)
        for name, data in events
        if not (name == "content_block_delta" and "text" in data["delta"])
    ] == [
        ("message_start", events[0][1]),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {**USE, "input": {}}},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"query":"django async"}'},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_abc",
                    "content": [
                        result(DOCS, "docs.djangoproject.com/en/5.2/topics/async"),
                        result(BLOG, "example.com/blog/django-async"),
                    ],
                },
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "citations_delta", "citation": DOCS_CITATION},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": message(searched())["usage"],
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    assert "".join(text_deltas) == TEXT


def test_the_citation_follows_the_text_it_cites_as_the_upstream_annotated_it() -> None:
    names = [
        data["delta"]["type"] if name == "content_block_delta" else name
        for name, data in produced(searched())
        if name.startswith("content_block") and data["index"] == 2
    ]

    assert names[-3:] == ["text_delta", "citations_delta", "content_block_stop"]


def test_every_streamed_event_is_a_raw_message_stream_event_of_the_sdk() -> None:
    adapter = pydantic.TypeAdapter(anthropic.types.RawMessageStreamEvent)

    for _name, data in produced(searched()):
        adapter.validate_python(data, strict=True)


def test_the_sdk_accumulates_the_stream_into_the_blocks_citations_and_usage() -> None:
    final = sdk_final_message(stream(searched()))

    use, found, text = final.content
    assert isinstance(use, ServerToolUseBlock) and use.input == {"query": "django async"}
    assert isinstance(found, WebSearchToolResultBlock)
    assert isinstance(text, TextBlock) and text.text == TEXT
    assert [c.to_dict() for c in text.citations or []] == [DOCS_CITATION]
    assert final.usage.server_tool_use is not None and final.usage.server_tool_use.web_search_requests == 1


def test_streaming_and_non_streaming_agree_where_no_result_is_titled_by_a_later_citation() -> None:
    """Search 2 finds a page the first answer already cited: both paths title it from that citation."""
    events = response_events(
        web_search_call_item_events("django async", [BLOG], item_id="ws_1"),
        message_item_events(TEXT, output_index=1, annotations=[CITATION]),
        web_search_call_item_events("django async docs", [DOCS], item_id="ws_2", output_index=2),
        message_item_events("More to read.", output_index=3),
        response_id="resp_2",
    )

    final = sdk_final_message(stream(events)).to_dict(mode="json")

    assert final.pop("stop_details", None) is None
    assert final == message(events)
    assert final["content"][4]["content"] == [result(DOCS, DOCS_TITLE)]
    assert final["usage"]["server_tool_use"]["web_search_requests"] == 2


def test_a_stream_titles_a_result_cited_only_later_by_its_address() -> None:
    """The one documented difference: the stream sends results before the text that titles them."""
    streamed = sdk_final_message(stream(searched())).to_dict(mode="json")
    whole = message(searched())

    assert streamed["content"][1]["content"][0]["title"] == "docs.djangoproject.com/en/5.2/topics/async"
    assert whole["content"][1]["content"][0]["title"] == DOCS_TITLE
    streamed["content"][1]["content"][0]["title"] = DOCS_TITLE
    streamed.pop("stop_details", None)
    assert streamed == whole


def test_annotations_sent_only_with_the_done_part_still_become_citations() -> None:
    events = [e for e in searched() if e["type"] != "response.output_text.annotation.added"]

    final = sdk_final_message(stream(events))

    assert [c.url for c in final.content[2].citations or []] == [DOCS_CITED]  # type: ignore[union-attr]


def test_an_annotation_is_sent_once_though_the_done_part_and_item_repeat_it() -> None:
    citations = [
        d
        for n, d in produced(searched())
        if n == "content_block_delta" and d["delta"]["type"] == "citations_delta"
    ]

    assert len(citations) == 1


def test_an_annotation_before_any_text_waits_for_the_text_block() -> None:
    events = searched()
    annotation = next(e for e in events if e["type"] == "response.output_text.annotation.added")
    events.remove(annotation)
    first_delta = next(i for i, e in enumerate(events) if e["type"] == "response.output_text.delta")
    events.insert(first_delta, annotation)

    kinds = [
        d["delta"]["type"] if n == "content_block_delta" else n
        for n, d in produced(events)
        if n.startswith("content_block") and d["index"] == 2
    ]

    assert kinds[:3] == ["content_block_start", "citations_delta", "text_delta"]


def test_with_stop_sequences_citations_wait_for_the_end_of_their_block() -> None:
    kinds = [
        d["delta"]["type"] if n == "content_block_delta" else n
        for n, d in produced(searched(), ctx(stop_sequences=("NEVER",)))
        if n.startswith("content_block") and d["index"] == 2
    ]

    assert kinds[-2:] == ["citations_delta", "content_block_stop"]


def test_a_block_cut_at_a_stop_sequence_sends_no_citations_like_the_non_streaming_answer() -> None:
    context = ctx(stop_sequences=("3.1",))

    final = sdk_final_message(stream(searched(), context)).to_dict(mode="json")

    assert final["content"][2] == {"type": "text", "text": "Django has supported async views since "}
    assert final["content"][2] == message(searched(), context)["content"][2]
    assert final["stop_reason"] == "stop_sequence"


def test_a_repeated_output_item_done_sends_the_search_once() -> None:
    events = searched()
    done = next(e for e in events if e["type"] == "response.output_item.done")
    events.insert(events.index(done) + 1, done)

    starts = [d["content_block"]["type"] for n, d in produced(events) if n == "content_block_start"]

    assert starts == ["server_tool_use", "web_search_tool_result", "text"]


def test_a_search_known_only_from_the_terminal_response_is_still_streamed() -> None:
    events = [
        e
        for e in searched()
        if not e["type"].startswith("response.web_search_call") and e.get("output_index") != 0
    ]

    starts = [d["content_block"]["type"] for n, d in produced(events) if n == "content_block_start"]

    assert starts == ["text", "server_tool_use", "web_search_tool_result"]


def test_without_the_tool_declared_the_stream_is_the_plain_text_stream() -> None:
    plain = response_events(
        message_item_events(TEXT, annotations=[CITATION]),
        response_id="resp_1",
        usage=usage_object(1480, 96),
    )

    assert stream(searched(), ctx(web_search=False)) == stream(plain, ctx(web_search=False))


def test_reasoning_between_searches_streams_as_thinking_blocks_in_output_order() -> None:
    events = response_events(
        reasoning_item_events(["I should search."], item_id="rs_1"),
        web_search_call_item_events("django async", [DOCS], item_id="ws_1", output_index=1),
        reasoning_item_events(["Found the docs."], item_id="rs_2", output_index=2),
        message_item_events(TEXT, output_index=3, annotations=[CITATION]),
        response_id="resp_3",
    )
    context = ctx(thinking=True, signing_key="k")

    final = sdk_final_message(stream(events, context)).to_dict(mode="json")

    assert [block["type"] for block in final["content"]] == [
        "thinking",
        "server_tool_use",
        "web_search_tool_result",
        "thinking",
        "text",
    ]
    assert [block["type"] for block in message(events, context)["content"]] == [
        block["type"] for block in final["content"]
    ]
