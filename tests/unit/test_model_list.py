"""GET /v1/models shapes: Anthropic's ModelInfo and its cursor pagination."""

from __future__ import annotations

import pytest

from streaming.api.model_list import display_name, model_info, model_page
from streaming.errors import InvalidRequestError

IDS = ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("claude-opus-4-5", "Claude Opus 4.5"),
        ("claude-sonnet-4-6", "Claude Sonnet 4.6"),
        ("claude-3-haiku", "claude-3-haiku"),
        ("gpt-5", "Gpt 5"),
        ("custom", "custom"),
    ],
)
def test_display_names(model_id: str, expected: str) -> None:
    assert display_name(model_id) == expected


def test_model_info_has_the_sdk_fields() -> None:
    assert set(model_info("claude-opus-4-5")) == {"type", "id", "display_name", "created_at"}
    assert model_info("x")["type"] == "model"


@pytest.mark.parametrize(
    ("query", "ids", "has_more"),
    [
        ({}, IDS, False),
        ({"limit": "2"}, ["a", "b"], True),
        ({"limit": "2", "after_id": "b"}, ["c", "d"], False),
        ({"after_id": "d"}, [], False),
        ({"limit": "2", "before_id": "d"}, ["b", "c"], True),
        ({"after_id": "unknown"}, [], False),
    ],
)
def test_pagination(query: dict[str, str], ids: list[str], has_more: bool) -> None:
    page = model_page(IDS, query)
    assert [m["id"] for m in page["data"]] == ids
    assert page["has_more"] is has_more
    assert page["first_id"] == (ids[0] if ids else None)
    assert page["last_id"] == (ids[-1] if ids else None)


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1"])
def test_bad_limit_is_a_400(limit: str) -> None:
    with pytest.raises(InvalidRequestError, match="limit"):
        model_page(IDS, {"limit": limit})
