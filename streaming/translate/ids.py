"""Stateless, reversible id and name mappings between the two APIs (protocol.md C.4).

Everything here is deterministic so that ids and tool names from earlier turns keep matching when a
client sends its history back: no state is kept between requests.
"""

from __future__ import annotations

import hashlib
import re
import uuid

TOOL_ID_PREFIX = "toolu_"
SERVER_TOOL_ID_PREFIX = "srvtoolu_"
MESSAGE_ID_PREFIX = "msg_"
# The Responses API limits function names to 64 characters of [A-Za-z0-9_-].
MAX_TOOL_NAME = 64
_VALID_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_INVALID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def message_id(response_id: str) -> str:
    """``resp_X`` -> ``msg_X``: correlatable with the upstream response."""
    return MESSAGE_ID_PREFIX + response_id.removeprefix("resp_")


def tool_use_id(call_id: str) -> str:
    """Upstream ``call_id`` -> Anthropic ``tool_use.id``."""
    return TOOL_ID_PREFIX + call_id


def server_tool_use_id(item_id: str) -> str:
    """Upstream ``web_search_call`` id ``ws_X`` -> ``srvtoolu_X`` (a fresh one for servers that send none)."""
    return SERVER_TOOL_ID_PREFIX + (item_id.removeprefix("ws_") or uuid.uuid4().hex)


def call_id(tool_use_id: str) -> str:
    """Anthropic ``tool_use.id`` / ``tool_result.tool_use_id`` -> upstream ``call_id`` (one prefix stripped)."""
    return tool_use_id.removeprefix(TOOL_ID_PREFIX)


def upstream_tool_name(name: str) -> str:
    """A tool name the upstream accepts; long or unusual names (MCP tools) get a stable hashed short form."""
    if _VALID_TOOL_NAME.match(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    head = _INVALID_CHARS.sub("_", name)[: MAX_TOOL_NAME - len(digest) - 1]
    return f"{head}_{digest}"


def tool_name_map(names: list[str]) -> dict[str, str]:
    """Upstream name -> client name, for names that had to be shortened (used to map answers back)."""
    return {short: name for name in names if (short := upstream_tool_name(name)) != name}
