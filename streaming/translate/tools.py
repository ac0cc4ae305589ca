"""Anthropic ``tools`` / ``tool_choice`` -> Responses ``tools`` / ``tool_choice`` / ``max_tool_calls``. Pure.

Each tool is checked on the way (400s name the path) and mapped by kind:

- Custom tools (no ``type``, or ``custom``) -> non-strict function tools: ``parameters`` = ``input_schema``
  as given, with ``"type": "object"`` / ``"properties": {}`` added when missing (OpenAI requires them; they
  change nothing).
- Anthropic-defined client tools (bash, text editor, memory, computer: ``translate.anthropic_tools``) ->
  function tools with the published schema and a description, under the name the type fixes (``bash``,
  ``str_replace_based_edit_tool``...; any other name is a 400, as on Anthropic's API).
- Web search (``web_search_20250305``, ``_20260209``, ``_20260318``, name ``web_search``) -> the Responses
  ``web_search`` tool. ``allowed_domains`` -> ``filters.allowed_domains``; ``user_location`` ->
  ``user_location`` (``approximate``: city, region, country, timezone); ``max_uses`` -> ``max_tool_calls``,
  the upstream's cap on built-in tool calls in one response: web search is the only built-in tool the
  gateway sends, so it caps the searches (the upstream's page opens count against it too, so it is if
  anything stricter). ``blocked_domains`` is a 400: the upstream can only be limited to an allow-list, and
  searching domains the client excluded would be worse than refusing. An empty ``blocked_domains`` blocks
  nothing and is accepted. The request also asks for the sources (``translate.request``).
- Every other server tool -> 400 naming it and saying what to use instead.

Other tool fields (``cache_control``, ``defer_loading``, ``strict``, ``input_examples``,
``allowed_callers``, ``response_inclusion``...) are dropped.
"""

from __future__ import annotations

from typing import Any, cast

from streaming.translate import ids
from streaming.translate.anthropic_tools import COMPUTER_TYPES, DEFINED_TOOLS
from streaming.translate.fields import (
    at,
    expect_bool,
    expect_choice,
    expect_int,
    expect_list,
    expect_object,
    expect_str,
    invalid,
    optional_str,
    require,
)
from streaming.translate.types import FunctionTool, Tool, ToolChoice, UserLocation, WebSearchTool

WEB_SEARCH_TYPES = frozenset({"web_search_20250305", "web_search_20260209", "web_search_20260318"})
WEB_SEARCH_NAME = "web_search"
_LOCATION_FIELDS = ("city", "region", "country", "timezone")

# Server tools without an upstream equivalent: type prefix -> why, and what to do instead.
_UNSUPPORTED = (
    (
        "web_fetch_",
        "the upstream has no tool that fetches a given URL; use web search (web_search_20250305), or a "
        "custom tool that fetches pages in your application",
    ),
    (
        "code_execution_",
        "the upstream's code interpreter cannot give Anthropic's code execution results (no separate stdout "
        "and stderr, no return code, no Files API ids for created files); define a custom tool that runs "
        "code in your application, or declare bash_20250124 and run the commands yourself",
    ),
    (
        "mcp_toolset",
        "the gateway does not connect to MCP servers; connect them in your application and declare their "
        "tools as custom tools",
    ),
    (
        "tool_search_tool_",
        "the gateway sends every tool to the model (defer_loading is ignored), so there is nothing to "
        "search; remove it",
    ),
    (
        "computer_toolset_",
        "declare the single computer tool instead (computer_20250124 or computer_20251124)",
    ),
)
_OTHER_SERVER_TOOL = (
    "it is an Anthropic server tool with no upstream equivalent; define a custom tool (name, description, "
    "input_schema) and run it in your application instead"
)


def is_custom_tool(tool: dict[str, Any]) -> bool:
    """A tool without ``type`` or with ``type: "custom"``."""
    return tool.get("type") in (None, "custom")


def is_web_search(tool: dict[str, Any]) -> bool:
    return tool.get("type") in WEB_SEARCH_TYPES


def check_tools(value: object) -> list[dict[str, Any]]:
    """The request's ``tools``, every one checked for its kind; names unique across all of them."""
    if value is None:
        return []
    tools = expect_list(value, "tools")
    seen: set[str] = set()
    for index, tool in enumerate(tools):
        path = at("tools", index)
        expect_object(tool, path)
        if is_custom_tool(tool):
            _check_custom(tool, path)
        else:
            kind = expect_str(tool["type"], at(path, "type"))
            if kind in WEB_SEARCH_TYPES:
                _check_web_search(tool, path)
            elif kind in DEFINED_TOOLS:
                _check_defined(tool, kind, path)
            else:
                raise invalid(
                    at(path, "type"), f"'{kind}' is not supported by this gateway: {_advice(kind)}."
                )
        name = tool["name"]
        if name in seen:
            raise invalid(at(path, "name"), f"Tool names must be unique ('{name}' appears twice)")
        seen.add(name)
    return tools


def _advice(kind: str) -> str:
    return next((why for prefix, why in _UNSUPPORTED if kind.startswith(prefix)), _OTHER_SERVER_TOOL)


def _check_custom(tool: dict[str, Any], path: str) -> None:
    expect_str(require(tool, "name", path), at(path, "name"), non_empty=True)
    schema = expect_object(require(tool, "input_schema", path), at(path, "input_schema"))
    if "type" in schema and schema["type"] != "object":
        raise invalid(at(path, "input_schema.type"), "Input should be 'object'")
    optional_str(tool, "description", path)


def _check_defined(tool: dict[str, Any], kind: str, path: str) -> None:
    expect_choice(require(tool, "name", path), at(path, "name"), (DEFINED_TOOLS[kind].name,))
    if kind in COMPUTER_TYPES:
        for key in ("display_width_px", "display_height_px"):
            expect_int(require(tool, key, path), at(path, key), minimum=1)
        if tool.get("display_number") is not None:
            expect_int(tool["display_number"], at(path, "display_number"), minimum=0)
        if tool.get("enable_zoom") is not None:
            expect_bool(tool["enable_zoom"], at(path, "enable_zoom"))
    if tool.get("max_characters") is not None:
        expect_int(tool["max_characters"], at(path, "max_characters"), minimum=1)


def _check_web_search(tool: dict[str, Any], path: str) -> None:
    expect_choice(require(tool, "name", path), at(path, "name"), (WEB_SEARCH_NAME,))
    blocked = tool.get("blocked_domains")
    if blocked is not None and expect_list(blocked, at(path, "blocked_domains")):
        raise invalid(
            at(path, "blocked_domains"),
            "not supported by this gateway: the upstream's web search can be limited to a list of domains "
            "but not told which to avoid. Remove blocked_domains, or list the domains to search in "
            "allowed_domains.",
        )
    if tool.get("allowed_domains") is not None:
        domains = expect_list(tool["allowed_domains"], at(path, "allowed_domains"))
        if not domains:
            raise invalid(at(path, "allowed_domains"), "List should have at least 1 item")
        for position, domain in enumerate(domains):
            expect_str(domain, at(at(path, "allowed_domains"), position), non_empty=True)
    if tool.get("user_location") is not None:
        location_path = at(path, "user_location")
        location = expect_object(tool["user_location"], location_path)
        expect_choice(require(location, "type", location_path), at(location_path, "type"), ("approximate",))
        for key in _LOCATION_FIELDS:
            optional_str(location, key, location_path)
    if tool.get("max_uses") is not None:
        expect_int(tool["max_uses"], at(path, "max_uses"), minimum=1)


# --- mapping (tools already checked) -------------------------------------------------------------------------------


def upstream_tools(tools: list[dict[str, Any]]) -> list[Tool]:
    return [_upstream_tool(tool) for tool in tools]


def _upstream_tool(tool: dict[str, Any]) -> Tool:
    if is_custom_tool(tool):
        return function_tool(tool)
    if is_web_search(tool):
        return web_search_tool(tool)
    description, parameters = DEFINED_TOOLS[tool["type"]].build(tool)
    return {
        "type": "function",
        "name": tool["name"],
        "description": description,
        "parameters": parameters,
        "strict": False,
    }


def function_tool(tool: dict[str, Any]) -> FunctionTool:
    """A custom Anthropic tool as a non-strict function tool; only name/description/schema survive."""
    schema = dict(tool["input_schema"])
    if "type" not in schema:
        schema = {"type": "object", **schema}
    schema.setdefault("properties", {})
    function: FunctionTool = {
        "type": "function",
        "name": ids.upstream_tool_name(tool["name"]),
        "parameters": schema,
        "strict": False,
    }
    if tool.get("description") is not None:
        function["description"] = tool["description"]
    return function


def web_search_tool(tool: dict[str, Any]) -> WebSearchTool:
    upstream: WebSearchTool = {"type": "web_search"}
    if tool.get("allowed_domains"):
        upstream["filters"] = {"allowed_domains": list(tool["allowed_domains"])}
    if (location := tool.get("user_location")) is not None:
        known = {key: location[key] for key in _LOCATION_FIELDS if location.get(key) is not None}
        upstream["user_location"] = cast(UserLocation, {"type": "approximate", **known})
    return upstream


def max_tool_calls(tools: list[dict[str, Any]]) -> int | None:
    """The web search tool's ``max_uses``, the only cap on built-in tool calls a request can carry."""
    caps = [tool["max_uses"] for tool in tools if is_web_search(tool) and tool.get("max_uses") is not None]
    return min(caps) if caps else None


def tool_choice(choice: dict[str, Any], tools: list[dict[str, Any]]) -> ToolChoice:
    """``auto``/``any``/``none`` -> ``auto``/``required``/``none``; a named tool -> that function, or web search."""
    kind = choice["type"]
    if kind == "tool":
        if any(is_web_search(tool) and tool["name"] == choice["name"] for tool in tools):
            return {"type": "allowed_tools", "mode": "required", "tools": [{"type": "web_search"}]}
        return {"type": "function", "name": ids.upstream_tool_name(choice["name"])}
    return "required" if kind == "any" else "auto" if kind == "auto" else "none"


def client_tool_names(tools: list[dict[str, Any]]) -> list[str]:
    """Names the model calls as functions (web search runs upstream and comes back as server tool blocks)."""
    return [tool["name"] for tool in tools if not is_web_search(tool)]
