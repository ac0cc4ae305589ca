"""Anthropic-defined client tools (bash, text editor, memory, computer) as upstream function tools. Pure.

Anthropic declares these tools by ``type`` alone: the input schema is built into Claude and the client only
runs the calls. An OpenAI model knows none of them, so each becomes a function tool carrying the schema
and a description saying how to use it. The function keeps the Anthropic name, so the model's calls come
back as ``tool_use`` blocks with the name and input shape code written for Claude already handles.

Where each schema comes from (the parameter names and meanings; descriptions are ours unless quoted):

- ``bash_20241022`` / ``bash_20250124`` (name ``bash``): ``command`` (string) and ``restart`` (boolean),
  from the bash tool page (platform.claude.com/docs/en/agents-and-tools/tool-use/bash-tool); the two
  parameter descriptions are the ones Anthropic publishes for the tool.
- ``text_editor_20241022`` / ``_20250124`` (name ``str_replace_editor``), ``text_editor_20250429`` /
  ``_20250728`` (name ``str_replace_based_edit_tool``): commands ``view``, ``create``, ``str_replace``,
  ``insert`` (plus ``undo_edit`` before the Claude 4 versions) and their parameters ``path``,
  ``view_range``, ``file_text``, ``old_str``, ``new_str``, ``insert_line``, from the text editor tool page
  (.../tool-use/text-editor-tool) and Anthropic's reference implementation
  (anthropics/anthropic-quickstarts ``computer-use-demo/computer_use_demo/tools/edit.py``). The text of
  ``insert`` is ``new_str`` up to ``_20250429`` (the page's examples and edit.py) and ``insert_text`` for
  ``_20250728`` (the page's current parameter list); not verifiable against a live model.
  ``max_characters`` (``_20250728``) is the tool parameter in anthropic-sdk-python
  ``types/tool_text_editor_20250728_param.py``.
- ``memory_20250818`` (name ``memory``): commands and parameters exactly as anthropic-sdk-python's
  ``types/beta/beta_memory_tool_20250818_*_command.py`` (view, create, str_replace, insert, delete,
  rename); the ``/memories`` root from the memory tool page (.../tool-use/memory-tool).
- ``computer_20241022`` / ``_20250124`` / ``_20251124`` (name ``computer``): actions per version from the
  computer use tool page (.../tool-use/computer-use-tool) and edit.py's sibling ``computer.py`` in the
  quickstarts; parameter meanings (``coordinate``, ``start_coordinate``, ``text`` as modifier keys for
  clicks and scrolls, ``scroll_direction``, ``scroll_amount``, ``duration``, ``region``) from
  anthropic-sdk-python ``types/computer_*_input.py``. Tool options ``display_width_px``,
  ``display_height_px``, ``display_number``, ``enable_zoom`` from ``types/beta/beta_tool_computer_use_*``.

Schemas are never strict (OpenAI's strict mode requires every property), and fresh dicts are built per
request so no caller can change a shared one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

Schema = dict[str, Any]


class DefinedTool(NamedTuple):
    """The fixed tool name and how to build the upstream description and parameters from the declaration."""

    name: str
    build: Callable[[dict[str, Any]], tuple[str, Schema]]


def _string(description: str) -> Schema:
    return {"type": "string", "description": description}


def _integer(description: str) -> Schema:
    return {"type": "integer", "description": description}


def _integers(count: int, description: str) -> Schema:
    """An array of exactly ``count`` integers: a point, a line range, a screen region."""
    return {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": count,
        "maxItems": count,
        "description": description,
    }


def _object(properties: Schema, required: list[str]) -> Schema:
    return {"type": "object", "properties": properties, "required": required}


# --- bash --------------------------------------------------------------------------------------------------------

_BASH_DESCRIPTION = (
    "Run a command in a persistent bash shell on the user's machine and get its output (stdout and "
    "stderr). The session keeps its state between calls: working directory, environment variables and "
    "files persist. Use it for builds, tests, git, package managers, searching and inspecting files, and "
    "scripts. Do not start commands that wait for input or never exit (interactive editors, servers in "
    "the foreground): run long jobs in the background with their output redirected to a file. Keep output "
    "short (pipe through head, tail or grep). If the shell stops responding, call the tool with restart "
    "set to true."
)


def _bash(tool: dict[str, Any]) -> tuple[str, Schema]:
    properties = {
        "command": _string("The bash command to run. Required unless the tool is being restarted."),
        "restart": {
            "type": "boolean",
            "description": "Specifying true will restart this tool. Otherwise, leave this unspecified.",
        },
    }
    return _BASH_DESCRIPTION, _object(properties, [])


# --- text editor ---------------------------------------------------------------------------------------------------


def _text_editor(*, undo: bool, insert_field: str) -> Callable[[dict[str, Any]], tuple[str, Schema]]:
    commands = ["view", "create", "str_replace", "insert"] + (["undo_edit"] if undo else [])

    def build(tool: dict[str, Any]) -> tuple[str, Schema]:
        description = (
            "View, create and edit plain-text files on the user's machine. Commands: `view` shows a file "
            "with line numbers (optionally only `view_range`) or lists a directory; `create` writes a new "
            "file with `file_text`; `str_replace` replaces `old_str`, which must occur exactly once in the "
            "file (include enough surrounding lines to make it unique, and match whitespace exactly), with "
            f"`new_str`; `insert` inserts `{insert_field}` after line `insert_line` (0: at the top)"
        )
        description += "; `undo_edit` reverts the last edit of `path`." if undo else "."
        description += " View a file before editing it. Paths are absolute."
        if (limit := tool.get("max_characters")) is not None:
            description += f" `view` shows at most {limit} characters of a file."
        properties: Schema = {
            "command": {"type": "string", "enum": commands, "description": "The command to run."},
            "path": _string("Absolute path to a file or directory, e.g. `/repo/file.py` or `/repo`."),
            "file_text": _string("Required for `create`: the content of the new file."),
            "old_str": _string("Required for `str_replace`: the exact text to replace; it must occur once."),
            "new_str": _string(
                "For `str_replace`: the replacement text (omitted: `old_str` is deleted)."
                + (" Required for `insert`: the text to insert." if insert_field == "new_str" else "")
            ),
            "insert_line": _integer("Required for `insert`: the line after which to insert (0: the top)."),
            "view_range": _integers(
                2,
                "Optional for `view` of a file: [first_line, last_line], 1-based and inclusive; last_line -1 "
                "reads to the end of the file.",
            ),
        }
        if insert_field == "insert_text":
            properties["insert_text"] = _string("Required for `insert`: the text to insert.")
        return description, _object(properties, ["command", "path"])

    return build


# --- memory --------------------------------------------------------------------------------------------------------

_MEMORY_DESCRIPTION = (
    "Your memory directory, /memories, which persists across conversations (earlier sessions may have left "
    "notes there). View it before starting a task and read what is relevant; record progress, decisions "
    "and lessons as you work, so that a later session can pick up where this one stops. Keep it organised "
    "and up to date (fix or delete stale notes). Commands: `view` lists a directory or shows a file with "
    "line numbers (optionally `view_range`); `create` writes `file_text` to a new file; `str_replace` "
    "replaces the unique `old_str` with `new_str`; `insert` inserts `insert_text` after line "
    "`insert_line`; `delete` removes a file or directory; `rename` moves `old_path` to `new_path`. Every "
    "path starts with /memories."
)


def _memory(tool: dict[str, Any]) -> tuple[str, Schema]:
    commands = ["view", "create", "str_replace", "insert", "delete", "rename"]
    properties: Schema = {
        "command": {"type": "string", "enum": commands, "description": "The command to run."},
        "path": _string("The file or directory, under /memories (all commands but `rename`)."),
        "view_range": _integers(2, "Optional for `view` of a file: [first_line, last_line], 1-based."),
        "file_text": _string("Required for `create`: the content of the file."),
        "old_str": _string("Required for `str_replace`: the text to replace; it must occur once."),
        "new_str": _string("Required for `str_replace`: the replacement text."),
        "insert_line": _integer("Required for `insert`: the line after which to insert (0: the top)."),
        "insert_text": _string("Required for `insert`: the text to insert."),
        "old_path": _string("Required for `rename`: the current path."),
        "new_path": _string("Required for `rename`: the new path."),
    }
    return _MEMORY_DESCRIPTION, _object(properties, ["command"])


# --- computer ------------------------------------------------------------------------------------------------------

_ACTIONS_20241022 = [
    "key",
    "type",
    "mouse_move",
    "left_click",
    "left_click_drag",
    "right_click",
    "middle_click",
    "double_click",
    "screenshot",
    "cursor_position",
]
_ACTIONS_20250124 = [
    *_ACTIONS_20241022,
    "hold_key",
    "left_mouse_down",
    "left_mouse_up",
    "triple_click",
    "scroll",
    "wait",
]


def _computer(version: str) -> Callable[[dict[str, Any]], tuple[str, Schema]]:
    def build(tool: dict[str, Any]) -> tuple[str, Schema]:
        newer = version != "20241022"
        zoom = version == "20251124" and tool.get("enable_zoom") is True
        actions = (_ACTIONS_20250124 if newer else _ACTIONS_20241022) + (["zoom"] if zoom else [])
        display = f"{tool['display_width_px']}x{tool['display_height_px']} pixels"
        if tool.get("display_number") is not None:
            display += f" (X11 display :{tool['display_number']})"
        description = (
            f"Control the user's computer through its screen ({display}), mouse and keyboard. Start with a "
            "`screenshot` to see the screen, act with coordinates taken from the latest screenshot, and take "
            "another screenshot to check the effect before going on. Prefer keyboard shortcuts where they are "
            "reliable. Actions: `screenshot`; `cursor_position`; `mouse_move` to `coordinate`; `left_click`, "
            "`right_click`, `middle_click`, `double_click`"
        )
        description += ", `triple_click`" if newer else ""
        description += " at `coordinate`" + (
            " (or at the cursor), holding the keys in `text` if given" if newer else ""
        )
        description += "; `left_click_drag` " + (
            "from `start_coordinate` to `coordinate`" if newer else "to `coordinate`"
        )
        description += '; `type` the `text`; `key` presses the key or combination in `text` (xdotool names, e.g. "ctrl+s", "Return")'
        if newer:
            description += (
                "; `hold_key` holds `text` for `duration` seconds; `left_mouse_down` / `left_mouse_up`; "
                "`scroll` by `scroll_amount` wheel clicks in `scroll_direction` at `coordinate`; `wait` "
                "`duration` seconds"
            )
        description += "; `zoom` shows `region` of the screen enlarged." if zoom else "."
        properties: Schema = {
            "action": {"type": "string", "enum": actions, "description": "The action to perform."},
            "coordinate": _integers(2, "(x, y): pixels from the left and top edges of the screen."),
            "text": _string(
                "The text to type, the key or key combination to press"
                + (", or the modifier keys to hold during a click or scroll." if newer else ".")
            ),
        }
        if newer:
            properties.update(
                {
                    "start_coordinate": _integers(2, "For `left_click_drag`: (x, y) where the drag starts."),
                    "scroll_direction": {
                        "type": "string",
                        "enum": ["up", "down", "left", "right"],
                        "description": "For `scroll`: the direction.",
                    },
                    "scroll_amount": _integer("For `scroll`: the number of wheel clicks."),
                    "duration": {"type": "number", "description": "For `hold_key` and `wait`: seconds."},
                }
            )
        if zoom:
            properties["region"] = _integers(
                4, "For `zoom`: (x0, y0, x1, y1), the region of the screen to show."
            )
        return description, _object(properties, ["action"])

    return build


DEFINED_TOOLS: dict[str, DefinedTool] = {
    "bash_20241022": DefinedTool("bash", _bash),
    "bash_20250124": DefinedTool("bash", _bash),
    "text_editor_20241022": DefinedTool(
        "str_replace_editor", _text_editor(undo=True, insert_field="new_str")
    ),
    "text_editor_20250124": DefinedTool(
        "str_replace_editor", _text_editor(undo=True, insert_field="new_str")
    ),
    "text_editor_20250429": DefinedTool(
        "str_replace_based_edit_tool", _text_editor(undo=False, insert_field="new_str")
    ),
    "text_editor_20250728": DefinedTool(
        "str_replace_based_edit_tool", _text_editor(undo=False, insert_field="insert_text")
    ),
    "memory_20250818": DefinedTool("memory", _memory),
    "computer_20241022": DefinedTool("computer", _computer("20241022")),
    "computer_20250124": DefinedTool("computer", _computer("20250124")),
    "computer_20251124": DefinedTool("computer", _computer("20251124")),
}
"""Anthropic tool ``type`` -> its fixed name and schema builder (the versions the SDK types know)."""

COMPUTER_TYPES = frozenset(kind for kind in DEFINED_TOOLS if kind.startswith("computer_"))
