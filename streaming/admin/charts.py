"""Server-rendered SVG for the admin's usage page: stacked bars per day, one colour per key or model. Pure.

Why SVG from the server: the admin then needs no JavaScript, no chart library and no CDN (the gateway
often runs where there is no internet), and the browser draws it crisply at any size. Every bar segment
carries a ``<title>`` (the browser's tooltip: day, series, exact number), so no number is only a colour.
Colours are Paul Tol's "bright" scheme (distinguishable with common colour blindness); grey is "other".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

__all__ = ["OTHER", "Series", "compact", "nice_ticks", "pivot", "stacked_bar_chart"]

PALETTE = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377")
OTHER_COLOUR = "#BBBBBB"
OTHER = "other"
"""The label of the series that sums everything beyond the palette's colours."""

WIDTH = 880
PLOT_TOP = 26
PLOT_HEIGHT = 220
PLOT_LEFT = 64
PLOT_RIGHT = 16
X_AXIS_HEIGHT = 28
LEGEND_ROW = 22
LEGEND_COLUMN = 280


@dataclass(frozen=True, slots=True)
class Series:
    """One stacked layer: a label and one value per day."""

    label: str
    values: tuple[int, ...]

    @property
    def total(self) -> int:
        return sum(self.values)


def pivot(
    rows: Iterable[tuple[date, str, int]], days: Sequence[date], *, limit: int = len(PALETTE)
) -> list[Series]:
    """``(day, label, value)`` rows as one series per label over ``days``, largest total first.

    Beyond ``limit`` labels, the smaller ones are summed into one ``OTHER`` series (a chart with thirty
    colours is unreadable); rows for days outside ``days`` are ignored.
    """
    index = {day: position for position, day in enumerate(days)}
    values: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for day, label, value in rows:
        if day in index:
            values[label][index[day]] += value
    ranked = sorted(values.items(), key=lambda item: (-sum(item[1]), item[0]))
    series = [Series(label, tuple(numbers)) for label, numbers in ranked[:limit]]
    rest = ranked[limit:]
    if rest:
        summed = tuple(sum(numbers[position] for _, numbers in rest) for position in range(len(days)))
        series.append(Series(OTHER, summed))
    return series


def nice_ticks(maximum: int, count: int = 4) -> list[int]:
    """Round axis values from 0 covering ``maximum``: steps of 1, 2 or 5 times a power of ten."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(factor * magnitude for factor in (1, 2, 5, 10) if factor * magnitude >= raw)
    top = math.ceil(maximum / step) * step
    return list(range(0, top + 1, step))


def compact(number: int) -> str:
    """An axis label: 950, 1.5k, 12k, 3M."""
    for limit, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if abs(number) >= limit:
            text = f"{number / limit:.1f}".removesuffix(".0")
            return f"{text}{suffix}"
    return str(number)


def _colour(position: int, series: Series) -> str:
    return OTHER_COLOUR if series.label == OTHER else PALETTE[position % len(PALETTE)]


def stacked_bar_chart(days: Sequence[date], series: Sequence[Series], *, title: str, unit: str) -> str:
    """An ``<svg>`` element: one bar per day, stacked by series, with axes, legend and tooltips.

    ``unit`` names what a value counts ("tokens", "requests"); it appears on the axis and in every tooltip.
    """
    plot_width = WIDTH - PLOT_LEFT - PLOT_RIGHT
    band = plot_width / max(len(days), 1)
    bar = max(band * 0.72, 1.0)
    totals = [sum(layer.values[position] for layer in series) for position in range(len(days))]
    ticks = nice_ticks(max(totals, default=0))
    scale = PLOT_HEIGHT / ticks[-1]
    baseline = PLOT_TOP + PLOT_HEIGHT
    legend_columns = max(1, (WIDTH - PLOT_LEFT) // LEGEND_COLUMN)
    legend_rows = math.ceil(len(series) / legend_columns)
    height = baseline + X_AXIS_HEIGHT + legend_rows * LEGEND_ROW + 8

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" role="img" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" style="max-width:{WIDTH}px" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    # Y axis: gridlines and labels, then the unit above the labels.
    for tick in ticks:
        y = baseline - tick * scale
        parts.append(
            f'<line x1="{PLOT_LEFT}" x2="{WIDTH - PLOT_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{"#888" if tick == 0 else "#ddd"}" stroke-width="1"/>'
        )
        parts.append(
            f'<text x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{compact(tick)}</text>'
        )
    parts.append(f'<text x="4" y="{PLOT_TOP - 12}" fill="#555">{escape(unit)}</text>')
    # Bars: an invisible full-height band per day (its tooltip is the day's total), then the segments.
    label_every = max(1, math.ceil(len(days) / 12))
    for position, day in enumerate(days):
        left = PLOT_LEFT + position * band
        parts.append(
            f'<rect class="day" x="{left:.1f}" y="{PLOT_TOP}" width="{band:.1f}" height="{PLOT_HEIGHT}" '
            f'fill="transparent"><title>{day.isoformat()}: {totals[position]:,} {escape(unit)} in all'
            "</title></rect>"
        )
        top = float(baseline)
        for layer_index, layer in enumerate(series):
            value = layer.values[position]
            if not value:
                continue
            height_px = value * scale
            top -= height_px
            parts.append(
                f'<rect class="segment" x="{left + (band - bar) / 2:.1f}" y="{top:.1f}" width="{bar:.1f}" '
                f'height="{height_px:.1f}" fill="{_colour(layer_index, layer)}" data-series="{escape(layer.label)}" '
                f'data-day="{day.isoformat()}" data-value="{value}"><title>{day.isoformat()} · '
                f"{escape(layer.label)}: {value:,} {escape(unit)}</title></rect>"
            )
        if position % label_every == 0:
            parts.append(
                f'<text x="{left + band / 2:.1f}" y="{baseline + 16}" text-anchor="middle" fill="#555">'
                f"{day:%b %d}</text>"
            )
    # Legend: a swatch and "label (total)" per series, in columns.
    legend_top = baseline + X_AXIS_HEIGHT
    for layer_index, layer in enumerate(series):
        row, column = divmod(layer_index, legend_columns)
        x = PLOT_LEFT + column * LEGEND_COLUMN
        y = legend_top + row * LEGEND_ROW
        label = layer.label if len(layer.label) <= 32 else layer.label[:31] + "…"
        parts.append(
            f'<g class="legend-item"><rect x="{x}" y="{y}" width="12" height="12" '
            f'fill="{_colour(layer_index, layer)}"/><text x="{x + 18}" y="{y + 11}" fill="#333">'
            f"{escape(label)} ({layer.total:,})</text><title>{escape(layer.label)}: {layer.total:,} "
            f"{escape(unit)}</title></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
