"""The benchmark (bench/run.py) runs from start to end and measures every figure for both servers.

It runs with ``--quick`` (tiny samples, about 15 s) and asserts no speed target: those figures mean
something only from a full run on a quiet machine. This test is here so the benchmark never rots.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report
from tests.e2e.helpers import REPO_ROOT

pytestmark = pytest.mark.e2e

FIGURES = report.figures(long_deltas=1000, spaced_deltas=200, spacing_ms=2, prompt_kb=64)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """The printed table and the ``--json`` figures of one quick run."""
    output = tmp_path_factory.mktemp("bench") / "figures.json"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--quick", "--json", str(output)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-5000:]}"
    return result.stdout, json.loads(Path(output).read_text())["figures"]


def test_every_figure_of_the_issue_is_measured(quick_run: tuple[str, dict[str, Any]]) -> None:
    _, figures = quick_run
    assert set(figures) == {figure.key for figure in FIGURES}


def test_every_figure_has_a_value_for_the_gateway_and_the_passthrough(
    quick_run: tuple[str, dict[str, Any]],
) -> None:
    _, figures = quick_run
    missing = [key for key, figure in figures.items() if None in figure["median"].values()]
    assert missing == []


def test_the_table_prints_every_figure(quick_run: tuple[str, dict[str, Any]]) -> None:
    table, _ = quick_run
    assert [figure.label for figure in FIGURES if figure.label not in table] == []


@pytest.mark.parametrize(
    ("script", "size", "prints"),
    [
        ("translate_cpu.py", "--events", "decode + translate + encode:"),  # the gateway's own CPU per event
        ("relay_cpu.py", "--reads", "relay (decode, translate, encode)"),  # the relay's Python per read
    ],
)
def test_the_in_process_benchmarks_docs_performance_quotes_run(script: str, size: str, prints: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / script), size, "200"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-5000:]
    assert prints in result.stdout
