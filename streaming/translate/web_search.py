"""Upstream web searches as Anthropic web search blocks, citations and usage; and their history as text. Pure.

Shared by ``translate.response`` and ``translate.stream``, used only when the request declared the web
search tool (``RequestContext.web_search``):

- A ``web_search_call`` item whose action is a ``search`` becomes the two blocks Anthropic's own search
  gives: ``server_tool_use`` (``id`` ``srvtoolu_`` + the item id without ``ws_``, ``name: "web_search"``,
  ``input: {"query": ...}``; several ``queries`` are joined with ``"; "``) and ``web_search_tool_result``
  (same id) listing one ``web_search_result`` per ``action.sources`` URL: ``url``, ``title``,
  ``encrypted_content: ""`` (the upstream returns no page content to carry) and ``page_age: null``
  (unknown). A ``failed`` call's result is the error object, ``error_code: "unavailable"``.
- ``open_page`` / ``find_in_page`` actions are steps of the upstream's browsing with no Anthropic
  counterpart: no blocks, not counted.
- Titles: the upstream's sources carry URLs only. A result takes the title of a ``url_citation`` for the
  same URL (compared without OpenAI's ``utm_source=openai`` marker, the fragment and a trailing slash),
  else the URL's host (without ``www.``) and path, which tells two pages of one site apart (else the URL).
  A non-streaming answer knows every citation of the response; a stream sends the results before the
  text that cites them, so only citations already streamed can title a result there.
- ``url_citation`` annotations become ``web_search_result_location`` citations of their text block:
  ``url``, ``title``, ``cited_text`` = the span of the answer the annotation covers (the upstream does not
  return the source's own text) and ``encrypted_index: ""``.
- ``usage.server_tool_use``: ``web_search_requests`` = searches that did not fail, ``web_fetch_requests``: 0.
- History: ``server_tool_use`` (web search) and ``web_search_tool_result`` blocks sent back are rendered as
  text the model reads: the query, then each result's title and URL (or the error code).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from streaming.translate.ids import server_tool_use_id
from streaming.translate.types import (
    ServerToolUsage,
    ServerToolUseBlock,
    WebSearchCitation,
    WebSearchError,
    WebSearchResult,
    WebSearchToolResultBlock,
)

WEB_SEARCH_CALL = "web_search_call"
_UNAVAILABLE: WebSearchError = {"type": "web_search_tool_result_error", "error_code": "unavailable"}
_OPENAI_MARKER = "utm_source=openai"


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def search_query(item: Mapping[str, Any]) -> str | None:
    """The query of a search call, or None when the item is not a search (``open_page``, ``find_in_page``)."""
    action = item.get("action")
    if not isinstance(action, Mapping):
        return ""  # servers that report no action: still a search the client should see
    if action.get("type") not in (None, "search"):
        return None
    if query := _str(action.get("query")):
        return query
    queries = action.get("queries")
    return "; ".join(q for q in queries if isinstance(q, str) and q) if isinstance(queries, list) else ""


def search_failed(item: Mapping[str, Any]) -> bool:
    return item.get("status") == "failed"


def url_key(url: str) -> str:
    """A URL as citations and sources are compared: no ``utm_source=openai``, fragment or trailing slash."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = "&".join(pair for pair in parts.query.split("&") if pair and pair != _OPENAI_MARKER)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"), query, ""))


def url_title(url: str) -> str:
    """A non-empty title for a URL nobody titled: ``host/path`` without ``www.`` and query, else the URL."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return url
    return host + parts.path.rstrip("/") if host else url


def search_blocks(
    item: Mapping[str, Any], titles: Mapping[str, str]
) -> tuple[ServerToolUseBlock, WebSearchToolResultBlock] | None:
    """The two blocks for a finished search call (None for other web actions); ``titles`` by ``url_key``."""
    query = search_query(item)
    if query is None:
        return None
    tool_id = server_tool_use_id(_str(item.get("id")))
    use: ServerToolUseBlock = {
        "type": "server_tool_use",
        "id": tool_id,
        "name": "web_search",
        "input": {"query": query},
    }
    result: WebSearchToolResultBlock = {
        "type": "web_search_tool_result",
        "tool_use_id": tool_id,
        "content": _UNAVAILABLE.copy() if search_failed(item) else _results(item, titles),
    }
    return use, result


def _results(item: Mapping[str, Any], titles: Mapping[str, str]) -> list[WebSearchResult]:
    action = item.get("action")
    sources = action.get("sources") if isinstance(action, Mapping) else None
    results: list[WebSearchResult] = []
    for source in sources if isinstance(sources, list) else ():
        if not isinstance(source, Mapping) or source.get("type", "url") != "url":
            continue
        if url := _str(source.get("url")):
            title = titles.get(url_key(url)) or url_title(url)
            results.append(
                {
                    "type": "web_search_result",
                    "url": url,
                    "title": title,
                    "encrypted_content": "",
                    "page_age": None,
                }
            )
    return results


def citation(annotation: object, text: str) -> WebSearchCitation | None:
    """A ``url_citation`` annotation of ``text`` as an Anthropic citation; None for other annotations."""
    if not isinstance(annotation, Mapping) or annotation.get("type") != "url_citation":
        return None
    url = _str(annotation.get("url"))
    if not url:
        return None
    start, end = annotation.get("start_index"), annotation.get("end_index")
    cited = ""
    if type(start) is int and type(end) is int and 0 <= start <= end:
        cited = text[start:end]
    return {
        "type": "web_search_result_location",
        "url": url,
        "title": _str(annotation.get("title")) or url_title(url),
        "encrypted_index": "",
        "cited_text": cited,
    }


def learn_title(titles: dict[str, str], annotation: object) -> None:
    """Remember a ``url_citation``'s title for its URL (the first title given for a URL wins)."""
    if isinstance(annotation, Mapping) and annotation.get("type") == "url_citation":
        url, title = _str(annotation.get("url")), _str(annotation.get("title"))
        if url and title:
            titles.setdefault(url_key(url), title)


def response_titles(output: Iterable[object]) -> dict[str, str]:
    """Every citation title in a finished response's message items, by ``url_key``."""
    titles: dict[str, str] = {}
    for item in output:
        content = item.get("content") if isinstance(item, Mapping) and item.get("type") == "message" else None
        for part in content if isinstance(content, list) else ():
            annotations = part.get("annotations") if isinstance(part, Mapping) else None
            for annotation in annotations if isinstance(annotations, list) else ():
                learn_title(titles, annotation)
    return titles


def part_citations(part: Mapping[str, Any], text: str) -> list[WebSearchCitation]:
    annotations = part.get("annotations")
    found = (citation(a, text) for a in (annotations if isinstance(annotations, list) else ()))
    return [c for c in found if c is not None]


def server_tool_usage(searches: int) -> ServerToolUsage:
    return {"web_search_requests": searches, "web_fetch_requests": 0}


# --- history ---------------------------------------------------------------------------------------------------------


def history_text(block: Mapping[str, Any], kind: str) -> str | None:
    """A web search block of the client's history as text, or None for other blocks (rendered generically)."""
    if kind == "server_tool_use" and block.get("name") == "web_search":
        query = block.get("input", {}).get("query") if isinstance(block.get("input"), Mapping) else None
        return f"[web_search] {json.dumps(_str(query), ensure_ascii=False)}"
    if kind != "web_search_tool_result":
        return None
    content = block.get("content")
    if isinstance(content, Mapping):
        return f"[web_search_tool_result] error: {_str(content.get('error_code')) or 'unknown'}"
    lines = ["[web_search_tool_result]"]
    for result in content if isinstance(content, list) else ():
        if isinstance(result, Mapping) and (url := _str(result.get("url"))):
            line = f"- {_str(result.get('title')) or url_title(url)} <{url}>"
            if page_age := _str(result.get("page_age")):
                line += f" ({page_age})"
            lines.append(line)
    if len(lines) == 1:
        lines.append("(no results)")
    return "\n".join(lines)
