"""The load group's fixtures (its gateways, ``tests/load/gateways.py``), and the figures every load test
prints at the end of the run ("load figures", whatever pytest captured).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.upstream import FakeUpstream
from tests.load.gateways import LoadGateways
from tests.load.scenarios import Target
from tests.servers import shared_services

_figures: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture(scope="session")
def load_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadGateways]:
    with shared_services("gateway_load", redis_db=3) as services, FakeUpstream() as fake:
        gateways = LoadGateways(tmp_path_factory.mktemp("load"), fake, services)
        try:
            yield gateways
        finally:
            gateways.stop()


@pytest.fixture(autouse=True)
def _fresh_upstream(load_gateways: LoadGateways) -> None:
    load_gateways.fake.reset()


@pytest.fixture
def streams(load_gateways: LoadGateways) -> Target:
    return load_gateways.target("streams")


@pytest.fixture
def small_pool(load_gateways: LoadGateways) -> Target:
    return load_gateways.target("small-pool")


@pytest.fixture
def flood(load_gateways: LoadGateways) -> Target:
    return load_gateways.target("flood")


@pytest.fixture
def bodies(load_gateways: LoadGateways) -> Target:
    return load_gateways.target("bodies")


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Keep a scenario's figures (a dataclass) for the "load figures" section at the end of the run."""

    def keep(figures: Any, label: str = "") -> None:
        name = request.node.name + (f" ({label})" if label else "")
        _figures.append((name, dataclasses.asdict(figures)))

    return keep


def _lines(values: dict[str, Any], indent: str) -> Iterator[str]:
    """One line per figure; a nested scenario's figures (keys that are field names) indented below."""
    for name, value in values.items():
        if isinstance(value, dict) and value and all(str(key).isidentifier() for key in value):
            yield f"{indent}{name}:"
            yield from _lines(value, indent + "    ")
        else:
            yield f"{indent}{name}: {value}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Every load test's figures, whatever pytest captured (``bin/test`` shows them, pass or fail)."""
    if not _figures:
        return
    terminalreporter.section("load figures")
    for test, values in _figures:
        terminalreporter.write_line(test)
        for line in _lines(values, "    "):
            terminalreporter.write_line(line)
