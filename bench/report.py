"""The figures of issue 12, their targets, and the table the benchmark prints.

Every figure is measured once per round for each server; the table shows the median over the rounds, the
spread ((max - min) / median, so a difference between two runs larger than both spreads is real), the
ratio gateway / pass-through of the medians, and whether the gateway meets the issue's target. With a
baseline (another checkout's gateway, measured in the same rounds) it also shows gateway / baseline per
round: drift of the machine between rounds cancels out of that ratio, so its spread is small.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Target:
    """``ratio <= limit`` (``ratio >= limit`` when ``at_least``), or on the gateway's own value when ``absolute``."""

    limit: float
    at_least: bool = False
    absolute: bool = False

    def text(self, unit: str) -> str:
        sign = "≥" if self.at_least else "≤"
        return f"{sign} {self.limit:g} {unit}" if self.absolute else f"{sign} {self.limit:g}{TIMES}"

    def verdict(self, gateway: float, ratio: float | None) -> str:
        value = gateway if self.absolute else ratio
        if value is None:
            return "n/a"
        if self.at_least:
            return "met" if value >= self.limit else f"missed by {1 - value / self.limit:.0%}"
        return "met" if value <= self.limit else f"missed by {value / self.limit - 1:.0%}"


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    target: Target | None
    digits: int = 2
    samples: dict[str, list[float]] = field(default_factory=dict)  # server name -> one value per round
    busy: bool = False  # some sample was measured while other processes kept the machine busy

    def add(self, server: str, value: float) -> None:
        self.samples.setdefault(server, []).append(value)

    def median(self, server: str) -> float | None:
        values = self.samples.get(server, [])
        return statistics.median(values) if values else None

    def spread(self, server: str) -> float | None:
        return _spread(self.samples.get(server, []))

    def against_baseline(self) -> list[float]:
        """gateway / baseline, round by round."""
        pairs = zip(self.samples.get("gateway", []), self.samples.get("baseline", []), strict=False)
        return [gateway / baseline for gateway, baseline in pairs if baseline]

    def ratio(self) -> float | None:
        gateway, passthrough = self.median("gateway"), self.median("passthrough")
        if gateway is None or not passthrough:
            return None
        return gateway / passthrough

    def cell(self, server: str) -> str:
        middle = self.median(server)
        if middle is None:
            return "-"
        spread = self.spread(server)
        text = f"{middle:.{self.digits}f} {self.unit}"
        return text if spread is None else f"{text} ({spread:.1%})"

    def as_dict(self) -> dict[str, object]:
        gateway, ratio = self.median("gateway"), self.ratio()
        return {
            "label": self.label,
            "unit": self.unit,
            "samples": self.samples,
            "median": {name: self.median(name) for name in self.samples},
            "spread": {name: self.spread(name) for name in self.samples},
            "ratio": ratio,
            "against_baseline": self.against_baseline() or None,
            "busy": self.busy,
            "target": self.target.text(self.unit) if self.target else None,
            "verdict": self.target.verdict(gateway, ratio) if self.target and gateway is not None else None,
        }


def figures(*, long_deltas: int, spaced_deltas: int, spacing_ms: float, prompt_kb: int) -> list[Figure]:
    return [
        Figure("cpu_stream", "CPU per short streamed request (10 deltas)", "ms", Target(1.4)),
        Figure("cpu_json", "CPU per non-streaming request", "ms", Target(1.5)),
        Figure(
            "cpu_event_together",
            f"CPU per upstream event, arriving together ({long_deltas} deltas)",
            "µs",
            Target(1.0),
            digits=1,
        ),
        Figure(
            "cpu_event_spaced",
            f"CPU per upstream event, own read ({spaced_deltas} deltas, {spacing_ms:g} ms apart)",
            "µs",
            Target(1.0),
            digits=1,
        ),
        Figure("mem_stream", "memory per open stream", "KiB", Target(1.2), digits=0),
        Figure(
            "mem_stream_big", f"memory per open stream, {prompt_kb} KiB prompt", "KiB", Target(1.2), digits=0
        ),
        Figure(
            "mem_kept",
            "memory kept after those streams closed (of the growth)",
            "%",
            Target(10, absolute=True),
            0,
        ),
        Figure("rps", "saturated 10-delta streams per second", "/s", Target(0.7, at_least=True), digits=0),
        Figure("ttfb_added", "added time to first byte, one stream, p50", "ms", Target(1.5, absolute=True)),
        Figure("abort_close", "client abort → upstream closed, median", "ms", Target(2.0, absolute=True)),
    ]


def _spread(values: list[float]) -> float | None:
    middle = statistics.median(values) if values else None
    if len(values) < 2 or not middle:
        return None
    return (max(values) - min(values)) / abs(middle)


def table(rows: list[Figure]) -> str:
    baseline = any(figure.against_baseline() for figure in rows)
    header = ["figure", "gateway (spread)", "pass-through (spread)", "ratio", "target", "result"]
    if baseline:
        header[3:3] = ["baseline (spread)", "gateway / baseline"]
    lines = [header]
    for figure in rows:
        gateway, ratio = figure.median("gateway"), figure.ratio()
        line = [
            figure.label + (" *" if figure.busy else ""),
            figure.cell("gateway"),
            figure.cell("passthrough"),
            "-" if ratio is None else f"{ratio:.2f}{TIMES}",
            figure.target.text(figure.unit) if figure.target else "",
            figure.target.verdict(gateway, ratio) if figure.target and gateway is not None else "",
        ]
        if baseline:
            rounds = figure.against_baseline()
            spread = _spread(rounds)
            against = f"{statistics.median(rounds):.3f}{TIMES}" if rounds else "-"
            line[3:3] = [figure.cell("baseline"), against if spread is None else f"{against} ({spread:.1%})"]
        lines.append(line)
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]

    def render(line: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()

    return "\n".join([render(lines[0]), render(["-" * width for width in widths]), *map(render, lines[1:])])
