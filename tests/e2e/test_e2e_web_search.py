"""Web search and Anthropic-defined tools through the real gateway, driven by the official Python SDK.

The fake upstream plays OpenAI's web search (a ``web_search_call`` with sources, then an answer with a
``url_citation``); the SDK must get Anthropic's web search blocks, citations and usage, streaming and not.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest
from anthropic.types import (
    CitationsWebSearchResultLocation,
    ServerToolUseBlock,
    TextBlock,
    ToolUseBlock,
    WebSearchResultBlock,
    WebSearchToolResultBlock,
)

from tests.e2e.helpers import answer, items_of_type, message_text
from tests.fakes.upstream import (
    FakeUpstream,
    function_call_events,
    text_response_events,
    url_citation,
    web_search_response_events,
)

pytestmark = pytest.mark.e2e

MODEL = "claude-sonnet-4-6"
DOCS = "https://docs.djangoproject.com/en/5.2/topics/async/"
BLOG = "https://www.example.com/blog/django-async"
LINK = "([docs.djangoproject.com](https://docs.djangoproject.com/en/5.2/topics/async/?utm_source=openai))"
ANSWER = f"Django runs async views natively since 3.1 {LINK}."
DOCS_TITLE = "Asynchronous support | Django documentation"
WEB_SEARCH: Any = {"type": "web_search_20250305", "name": "web_search", "max_uses": 2}
QUESTION: Any = [{"role": "user", "content": "Does Django do async? Search the web."}]


def search_answer() -> Any:
    citation = url_citation(ANSWER, LINK, DOCS + "?utm_source=openai", DOCS_TITLE)
    return answer(
        web_search_response_events("django async", [DOCS, BLOG], ANSWER, [citation], search_id="ws_e2e1")
    )


def sent(upstream: FakeUpstream, index: int = 0) -> dict[str, Any]:
    payload: dict[str, Any] = upstream.requests[index].json()
    return payload


def assert_web_search_content(content: list[Any]) -> None:
    use, found, text = content
    assert isinstance(use, ServerToolUseBlock)
    assert (use.id, use.name, use.input) == ("srvtoolu_e2e1", "web_search", {"query": "django async"})
    assert isinstance(found, WebSearchToolResultBlock) and found.tool_use_id == "srvtoolu_e2e1"
    assert isinstance(found.content, list) and all(isinstance(r, WebSearchResultBlock) for r in found.content)
    assert [(r.url, r.encrypted_content, r.page_age) for r in found.content] == [
        (DOCS, "", None),
        (BLOG, "", None),
    ]
    assert isinstance(text, TextBlock) and text.text == ANSWER
    (citation,) = text.citations or []
    assert isinstance(citation, CitationsWebSearchResultLocation)
    assert (citation.url, citation.title, citation.cited_text) == (
        DOCS + "?utm_source=openai",
        DOCS_TITLE,
        LINK,
    )


def test_a_web_search_answer_has_the_sdks_web_search_blocks(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(search_answer())

    message = client.messages.create(model=MODEL, max_tokens=1024, tools=[WEB_SEARCH], messages=QUESTION)

    assert_web_search_content(message.content)
    assert [r.title for r in message.content[1].content] == [DOCS_TITLE, "example.com/blog/django-async"]  # type: ignore[union-attr]
    assert message.usage.server_tool_use is not None
    assert message.usage.server_tool_use.web_search_requests == 1
    assert message.stop_reason == "end_turn"


def test_a_streamed_web_search_answer_accumulates_into_the_same_blocks(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(search_answer())

    with client.messages.stream(
        model=MODEL, max_tokens=1024, tools=[WEB_SEARCH], messages=QUESTION
    ) as stream:
        events = list(stream)
        message = stream.get_final_message()

    assert_web_search_content(message.content)
    assert [r.title for r in message.content[1].content] == [
        "docs.djangoproject.com/en/5.2/topics/async",
        "example.com/blog/django-async",
    ]  # type: ignore[union-attr]
    assert "citation" in {event.type for event in events}
    assert (
        message.usage.server_tool_use is not None and message.usage.server_tool_use.web_search_requests == 1
    )
    assert upstream.requests[0].json()["stream"] is True


def test_the_upstream_gets_its_web_search_tool_the_cap_and_the_sources_request(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(search_answer())
    tool = {
        **WEB_SEARCH,
        "allowed_domains": ["djangoproject.com"],
        "user_location": {"type": "approximate", "country": "CH"},
    }

    client.messages.create(model=MODEL, max_tokens=1024, tools=[tool], messages=QUESTION)

    payload = sent(upstream)
    assert payload["tools"] == [
        {
            "type": "web_search",
            "filters": {"allowed_domains": ["djangoproject.com"]},
            "user_location": {"type": "approximate", "country": "CH"},
        }
    ]
    assert (payload["max_tool_calls"], payload["include"]) == (2, ["web_search_call.action.sources"])


def test_the_answer_sent_back_reaches_the_upstream_as_text_the_model_reads(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(search_answer(), answer(text_response_events("Yes, since 3.1.")))
    first = client.messages.create(model=MODEL, max_tokens=1024, tools=[WEB_SEARCH], messages=QUESTION)

    history = [
        *QUESTION,
        {"role": "assistant", "content": [block.to_dict() for block in first.content]},
        {"role": "user", "content": "So, yes?"},
    ]
    second = client.messages.create(model=MODEL, max_tokens=1024, tools=[WEB_SEARCH], messages=history)

    assistant = items_of_type(sent(upstream, 1), "message")[1]
    assert second.content[0].text == "Yes, since 3.1."  # type: ignore[union-attr]
    assert assistant["role"] == "assistant"
    assert message_text(assistant) == (
        '[web_search] "django async"'
        f"[web_search_tool_result]\n- {DOCS_TITLE} <{DOCS}>\n- example.com/blog/django-async <{BLOG}>"
        + ANSWER
    )


def test_blocked_domains_are_refused_with_the_reason(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model=MODEL,
            max_tokens=1024,
            tools=[{**WEB_SEARCH, "blocked_domains": ["example.com"]}],
            messages=QUESTION,
        )

    assert raised.value.body["error"]["message"].startswith(  # type: ignore[index]
        "tools.0.blocked_domains: not supported by this gateway"
    )
    assert upstream.requests == []


def test_a_server_tool_without_an_equivalent_is_refused_naming_it(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    with pytest.raises(anthropic.BadRequestError) as raised:
        client.messages.create(
            model=MODEL,
            max_tokens=1024,
            tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}],
            messages=QUESTION,
        )

    assert "'web_fetch_20250910' is not supported by this gateway" in str(raised.value)


# Anthropic-defined client tools ------------------------------------------------------------------------


def test_the_bash_tool_round_trips_as_code_written_for_claude_expects(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.enqueue(
        answer(function_call_events("bash", {"command": "ls /srv"}, call_id="call_bash1")),
        answer(text_response_events("There is one app.")),
    )
    tools: Any = [{"type": "bash_20250124", "name": "bash"}]
    question: Any = [{"role": "user", "content": "What is in /srv?"}]

    with client.messages.stream(model=MODEL, max_tokens=1024, tools=tools, messages=question) as stream:
        first = stream.get_final_message()
    (call,) = first.content
    assert isinstance(call, ToolUseBlock)
    assert (call.name, call.input, first.stop_reason) == ("bash", {"command": "ls /srv"}, "tool_use")

    history: Any = [
        *question,
        {"role": "assistant", "content": [call.to_dict()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "app\n"}]},
    ]
    client.messages.create(model=MODEL, max_tokens=1024, tools=tools, messages=history)

    (function,) = sent(upstream)["tools"]
    assert (function["type"], function["name"]) == ("function", "bash")
    assert set(function["parameters"]["properties"]) == {"command", "restart"}
    [output] = items_of_type(sent(upstream, 1), "function_call_output")
    assert (output["call_id"], output["output"]) == ("call_bash1", "app\n")


def test_the_text_editor_tool_call_comes_back_with_its_input_shape(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    edit = {
        "command": "str_replace",
        "path": "/repo/app.py",
        "old_str": "DEBUG = True",
        "new_str": "DEBUG = False",
    }
    upstream.enqueue(answer(function_call_events("str_replace_based_edit_tool", edit, call_id="call_edit1")))

    message = client.messages.create(
        model=MODEL,
        max_tokens=1024,
        tools=[{"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}],
        messages=[{"role": "user", "content": "Turn debug off in /repo/app.py."}],
    )

    (call,) = message.content
    assert isinstance(call, ToolUseBlock)
    assert (call.id, call.name, call.input) == ("toolu_call_edit1", "str_replace_based_edit_tool", edit)
    assert json.loads(json.dumps(sent(upstream)["tools"][0]["parameters"]))["required"] == ["command", "path"]
