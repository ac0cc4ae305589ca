"""Typed field checks whose 400s name the field path, Anthropic (pydantic) style.

``messages.2.content.0.source.data: Field required``, ``max_tokens: Input should be a valid integer``:
every helper raises ``InvalidRequestError`` naming the path it was given. Shared by request validation
(``translate.validate``), tool checks (``translate.tools``) and content conversion (``translate.content``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from streaming.errors import InvalidRequestError

# The largest integer any field takes (2**31 - 1). Integers reach the upstream (``max_tokens`` ->
# ``max_output_tokens``, ``max_uses`` -> ``max_tool_calls``), whose parsers may hold only 32 bits; no
# model's limit comes near it, so above it is a 400 (as Anthropic answers a max_tokens over the model's
# limit), never a number forwarded that the upstream cannot read.
MAX_INTEGER = 2**31 - 1


def at(path: str, key: str | int) -> str:
    """``messages`` + ``2`` -> ``messages.2`` (Anthropic's path notation)."""
    return f"{path}.{key}" if path else str(key)


def invalid(path: str, message: str) -> InvalidRequestError:
    return InvalidRequestError(f"{path}: {message}" if path else message)


def _choices(choices: Sequence[str]) -> str:
    quoted = [f"'{c}'" for c in choices]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def require(obj: dict[str, Any], key: str, path: str) -> Any:
    """The value of a required field (null counts as missing)."""
    value = obj.get(key)
    if value is None:
        raise invalid(at(path, key), "Field required")
    return value


def expect_object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(path, "Input should be a valid dictionary")
    return value


def expect_list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise invalid(path, "Input should be a valid list")
    return value


def expect_str(value: object, path: str, *, non_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise invalid(path, "Input should be a valid string")
    if non_empty and not value:
        raise invalid(path, "String should have at least 1 character")
    return value


def expect_bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise invalid(path, "Input should be a valid boolean")
    return value


def expect_int(value: object, path: str, *, minimum: int | None = None, maximum: int = MAX_INTEGER) -> int:
    """An integer in range; above ``MAX_INTEGER`` by default, whatever the field (see there)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, "Input should be a valid integer")
    if minimum is not None and value < minimum:
        raise invalid(path, f"Input should be greater than or equal to {minimum}")
    if value > maximum:
        raise invalid(path, f"Input should be less than or equal to {maximum}")
    return value


def expect_number(value: object, path: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise invalid(path, "Input should be a valid number")
    if not low <= value <= high:
        raise invalid(path, f"Input should be between {low:g} and {high:g}")
    return float(value)


def expect_choice(value: object, path: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise invalid(path, f"Input should be {_choices(choices)}")
    return value


def optional_str(obj: dict[str, Any], key: str, path: str) -> str | None:
    value = obj.get(key)
    return None if value is None else expect_str(value, at(path, key))
