"""Anthropic content blocks -> Responses content parts, validating each block on the way (protocol.md C.1).

- ``text`` -> ``input_text``; ``image`` base64 -> ``input_image`` with a data URL, url -> the URL (always
  ``detail: "auto"``); PDF ``document`` base64 -> ``input_file`` with a data URL and a ``.pdf`` file name
  (title or ``document.pdf``), url -> ``input_file.file_url``, plain-text source -> ``input_text`` (title and
  context first), content source -> its own blocks. A document's title/context precede the file as text.
- ``tool_result`` content -> the ``function_call_output.output``: a string when it is text only, else a
  list of parts so images and PDFs reach the model; ``is_error`` -> an ``Error:`` prefix (the model only
  sees text); empty -> ``""``.
- ``search_result`` -> text (title, source, its text blocks); ``tool_reference`` -> a line saying the tool
  is available (the gateway always sends every tool, ``defer_loading`` or not).
- Server-tool history (``server_tool_use``, ``web_search_tool_result``, ``mcp_tool_use``, ``compaction``...)
  comes from the gateway's own web searches, or from a conversation that ran on Anthropic before switching
  to this gateway. It is kept as text so the model still sees what happened; failing the whole
  conversation would be worse. Web searches read as their query and each result's title and URL
  (``translate.web_search``); other blocks as a compact JSON rendering without encrypted fields. ``fallback`` and ``mcp_tool_listing`` are dropped: Anthropic does not
  render them into the prompt either. Any other ``type`` is a 400 naming its path, and so is a known block
  in a role that cannot hold it (a ``tool_use`` in a user message).
- ``file`` sources (Anthropic Files API ids) are a 400: the upstream cannot resolve them. URL sources must
  be public http(s) URLs and base64 sources valid base64 (``translate.sources``).
- ``cache_control`` and ``citations`` are ignored everywhere (OpenAI caches prefixes on its own).
"""

from __future__ import annotations

import json
from typing import Any

from streaming.translate import web_search
from streaming.translate.fields import (
    at,
    expect_choice,
    expect_list,
    expect_object,
    expect_str,
    invalid,
    optional_str,
    require,
)
from streaming.translate.sources import base64_data, public_url
from streaming.translate.types import (
    InputFilePart,
    InputImagePart,
    InputPart,
    InputTextPart,
    OutputTextPart,
)

IMAGE_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# Server-tool and beta history blocks kept as text (see the module docstring).
HISTORY_AS_TEXT = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "advisor_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
        "compaction",
    }
)
NOT_RENDERED = frozenset({"fallback", "mcp_tool_listing"})
HISTORY = HISTORY_AS_TEXT | NOT_RENDERED
USER_BLOCKS = frozenset({"text", "image", "document", "search_result", "tool_result"}) | HISTORY
ASSISTANT_BLOCKS = frozenset({"text", "thinking", "redacted_thinking", "tool_use"}) | HISTORY
SYSTEM_BLOCKS = frozenset({"text", "tool_addition", "tool_removal"})
TOOL_RESULT_BLOCKS = frozenset(
    {"text", "image", "document", "search_result", "tool_reference", "browser_state"}
)
KNOWN_BLOCKS = USER_BLOCKS | ASSISTANT_BLOCKS | SYSTEM_BLOCKS | TOOL_RESULT_BLOCKS | NOT_RENDERED
# Keys left out when a history block is rendered as text: opaque to the model, often large.
_OPAQUE_KEYS = frozenset({"cache_control", "encrypted_content", "encrypted_index", "signature", "citations"})


def input_text(text: str) -> InputTextPart:
    return {"type": "input_text", "text": text}


def output_text(text: str) -> OutputTextPart:
    return {"type": "output_text", "text": text, "annotations": []}


def block_type(block: object, path: str, allowed: frozenset[str], where: str) -> tuple[dict[str, Any], str]:
    """A content block and its ``type``, or a 400 naming why it cannot appear here."""
    block = expect_object(block, path)
    kind = expect_str(require(block, "type", path), at(path, "type"))
    if kind not in allowed:
        if kind in KNOWN_BLOCKS:
            raise invalid(at(path, "type"), f"'{kind}' blocks are not allowed in {where}")
        expected = ", ".join(f"'{k}'" for k in sorted(allowed))
        raise invalid(
            at(path, "type"),
            f"Input tag '{kind}' found using 'type' does not match any of the expected tags: {expected}",
        )
    return block, kind


def _strip_opaque(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_opaque(v) for k, v in value.items() if k not in _OPAQUE_KEYS}
    if isinstance(value, list):
        return [_strip_opaque(v) for v in value]
    return value


def history_text(block: dict[str, Any], kind: str) -> str:
    """Server-tool history as text the model can read: ``[type] {...}`` without encrypted fields."""
    if kind in NOT_RENDERED:
        return ""
    if kind == "compaction":
        summary = block.get("content")
        return summary if isinstance(summary, str) else ""
    if (searched := web_search.history_text(block, kind)) is not None:
        return searched
    fields = {k: v for k, v in _strip_opaque(block).items() if k != "type"}
    return f"[{kind}] {json.dumps(fields, ensure_ascii=False, separators=(',', ':'))}"


def search_result_text(block: dict[str, Any], path: str) -> str:
    title = expect_str(require(block, "title", path), at(path, "title"))
    source = expect_str(require(block, "source", path), at(path, "source"))
    texts = []
    for index, item in enumerate(expect_list(require(block, "content", path), at(path, "content"))):
        item_path = at(at(path, "content"), index)
        text_block, _ = block_type(item, item_path, frozenset({"text"}), "search_result content")
        texts.append(expect_str(require(text_block, "text", item_path), at(item_path, "text")))
    return "\n\n".join([f"{title}\nSource: {source}", *texts])


def image_part(block: dict[str, Any], path: str) -> InputImagePart:
    source_path = at(path, "source")
    source = expect_object(require(block, "source", path), source_path)
    kind = expect_choice(
        require(source, "type", source_path), at(source_path, "type"), ("base64", "url", "file")
    )
    if kind == "base64":
        media_type = expect_choice(
            require(source, "media_type", source_path), at(source_path, "media_type"), IMAGE_MEDIA_TYPES
        )
        data = base64_data(require(source, "data", source_path), at(source_path, "data"))
        url = f"data:{media_type};base64,{data}"
    elif kind == "url":
        url = public_url(require(source, "url", source_path), at(source_path, "url"))
    else:
        raise _files_api_unsupported(at(source_path, "type"))
    return {"type": "input_image", "image_url": url, "detail": "auto"}


def _files_api_unsupported(path: str) -> Exception:
    return invalid(path, "'file' sources (Anthropic Files API ids) are not supported by this gateway")


def _pdf_filename(title: str | None) -> str:
    """The title as a file name the upstream recognises as a PDF (it goes by the extension)."""
    if not title:
        return "document.pdf"
    name = "".join("_" if ch in "/\\" or ord(ch) < 32 else ch for ch in title).strip() or "document"
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


def document_parts(block: dict[str, Any], path: str) -> list[InputPart]:
    """PDF (base64/url) -> ``input_file``; plain text -> ``input_text``; content source -> its blocks."""
    title = optional_str(block, "title", path)
    context = optional_str(block, "context", path)
    preamble = "\n".join(part for part in (title, context) if part)
    source_path = at(path, "source")
    source = expect_object(require(block, "source", path), source_path)
    kind = expect_choice(
        require(source, "type", source_path),
        at(source_path, "type"),
        ("base64", "url", "text", "content", "file"),
    )
    if kind == "text":
        data = expect_str(require(source, "data", source_path), at(source_path, "data"))
        return [input_text("\n\n".join(part for part in (preamble, data) if part))]
    parts: list[InputPart] = [input_text(preamble)] if preamble else []
    if kind == "base64":
        expect_choice(
            require(source, "media_type", source_path), at(source_path, "media_type"), ("application/pdf",)
        )
        data = base64_data(require(source, "data", source_path), at(source_path, "data"))
        file: InputFilePart = {
            "type": "input_file",
            "file_data": f"data:application/pdf;base64,{data}",
            "filename": _pdf_filename(title),
        }
        parts.append(file)
    elif kind == "url":
        parts.append(
            {
                "type": "input_file",
                "file_url": public_url(require(source, "url", source_path), at(source_path, "url")),
            }
        )
    elif kind == "content":
        parts.extend(
            _content_source_parts(require(source, "content", source_path), at(source_path, "content"))
        )
    else:
        raise _files_api_unsupported(at(source_path, "type"))
    return parts


def _content_source_parts(value: object, path: str) -> list[InputPart]:
    if isinstance(value, str):
        return [input_text(value)] if value else []
    parts: list[InputPart] = []
    for index, item in enumerate(expect_list(value, path)):
        item_path = at(path, index)
        block, kind = block_type(item, item_path, frozenset({"text", "image"}), "document content")
        if kind == "image":
            parts.append(image_part(block, item_path))
        elif text := expect_str(require(block, "text", item_path), at(item_path, "text")):
            parts.append(input_text(text))
    return parts


def tool_result_output(content: object, path: str, *, is_error: bool) -> str | list[InputPart]:
    """A string when the result is text only (the common case), else a list of parts (images kept)."""
    parts: list[InputPart] = []
    if isinstance(content, str):
        parts = [input_text(content)] if content else []
    elif content is not None:
        for index, item in enumerate(expect_list(content, path)):
            item_path = at(path, index)
            block, kind = block_type(item, item_path, TOOL_RESULT_BLOCKS, "tool_result content")
            if kind == "image":
                parts.append(image_part(block, item_path))
            elif kind == "document":
                parts.extend(document_parts(block, item_path))
            elif kind == "text":
                if text := expect_str(require(block, "text", item_path), at(item_path, "text")):
                    parts.append(input_text(text))
            elif kind == "search_result":
                parts.append(input_text(search_result_text(block, item_path)))
            elif kind == "tool_reference":
                name = expect_str(require(block, "tool_name", item_path), at(item_path, "tool_name"))
                parts.append(input_text(f"Tool '{name}' is now available."))
            else:
                parts.append(input_text(history_text(block, kind)))
    if is_error:
        if parts and parts[0]["type"] == "input_text":
            parts[0] = input_text(f"Error: {parts[0]['text']}")
        else:
            parts.insert(0, input_text("Error:"))
    if all(part["type"] == "input_text" for part in parts):
        return "\n\n".join(part["text"] for part in parts if part["type"] == "input_text")
    return parts
