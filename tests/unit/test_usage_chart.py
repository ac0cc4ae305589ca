"""The usage page's SVG (``streaming.admin.charts``): per-day series, round axes, tooltips, escaped labels."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from streaming.admin.charts import OTHER, Series, compact, nice_ticks, pivot, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
DAYS = [date(2026, 3, 1) + timedelta(days=n) for n in range(3)]


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314  (the gateway's own output, not untrusted XML)


def segments(svg: str) -> list[dict[str, str]]:
    return [
        {**rect.attrib, "title": rect.findtext(f"{SVG}title") or ""}
        for rect in parsed(svg).iter(f"{SVG}rect")
        if rect.get("class") == "segment"
    ]


def test_pivot_makes_one_series_per_label_largest_first() -> None:
    rows = [(DAYS[0], "bob", 1), (DAYS[0], "alice", 5), (DAYS[2], "alice", 2), (DAYS[1], "bob", 3)]

    assert pivot(rows, DAYS) == [Series("alice", (5, 0, 2)), Series("bob", (1, 3, 0))]


def test_pivot_sums_labels_beyond_the_limit_into_other() -> None:
    rows = [(DAYS[0], name, value) for name, value in (("a", 9), ("b", 8), ("c", 2), ("d", 1))]

    assert pivot(rows, DAYS, limit=2) == [
        Series("a", (9, 0, 0)),
        Series("b", (8, 0, 0)),
        Series(OTHER, (3, 0, 0)),
    ]


def test_pivot_ignores_days_outside_the_period() -> None:
    assert pivot([(DAYS[0] - timedelta(days=1), "a", 5)], DAYS) == []


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (0, [0, 1]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (1234, [0, 500, 1000, 1500]),
        (100, [0, 50, 100]),
    ],
)
def test_axis_ticks_are_round_numbers_covering_the_maximum(maximum: int, ticks: list[int]) -> None:
    assert nice_ticks(maximum) == ticks


@pytest.mark.parametrize(
    ("number", "label"), [(0, "0"), (950, "950"), (1500, "1.5k"), (12_000, "12k"), (3_000_000, "3M")]
)
def test_axis_labels_are_compact(number: int, label: str) -> None:
    assert compact(number) == label


def test_every_nonzero_value_is_a_segment_with_its_number_in_a_tooltip() -> None:
    svg = stacked_bar_chart(DAYS, [Series("alice", (1200, 0, 7))], title="Tokens", unit="tokens")

    assert [(s["data-day"], s["data-value"], s["title"]) for s in segments(svg)] == [
        ("2026-03-01", "1200", "2026-03-01 · alice: 1,200 tokens"),
        ("2026-03-03", "7", "2026-03-03 · alice: 7 tokens"),
    ]


def test_segments_stack_and_their_heights_are_proportional() -> None:
    svg = stacked_bar_chart(DAYS, [Series("a", (300, 0, 0)), Series("b", (100, 0, 0))], title="t", unit="u")

    first, second = segments(svg)
    assert float(first["height"]) == pytest.approx(3 * float(second["height"]))
    assert float(second["y"]) + float(second["height"]) == pytest.approx(float(first["y"]))


def test_each_day_has_a_tooltip_with_its_total() -> None:
    svg = stacked_bar_chart(
        DAYS, [Series("a", (3, 0, 0)), Series("b", (4, 0, 0))], title="t", unit="requests"
    )

    days = [
        rect.findtext(f"{SVG}title") for rect in parsed(svg).iter(f"{SVG}rect") if rect.get("class") == "day"
    ]
    assert days == [
        "2026-03-01: 7 requests in all",
        "2026-03-02: 0 requests in all",
        "2026-03-03: 0 requests in all",
    ]


def test_the_legend_names_every_series_with_its_total() -> None:
    svg = stacked_bar_chart(DAYS, [Series("alice", (3, 4, 0)), Series(OTHER, (1, 0, 0))], title="t", unit="u")

    legend = [
        "".join(item.itertext()) for item in parsed(svg).iter(f"{SVG}g") if item.get("class") == "legend-item"
    ]
    assert legend == ["alice (7)alice: 7 u", "other (1)other: 1 u"]


def test_labels_are_escaped() -> None:
    svg = stacked_bar_chart(DAYS, [Series('<script>alert("x")</script>', (1, 0, 0))], title="t", unit="u")

    assert "<script>" not in svg
    assert segments(svg)[0]["data-series"] == '<script>alert("x")</script>'


def test_the_chart_has_axes_and_an_accessible_title() -> None:
    svg = parsed(stacked_bar_chart(DAYS, [Series("a", (5, 0, 0))], title="Tokens per day", unit="tokens"))

    assert svg.get("role") == "img"
    assert svg.findtext(f"{SVG}title") == "Tokens per day"
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert {"0", "2", "4", "6", "tokens", "Mar 01", "Mar 02", "Mar 03"} <= set(texts)
