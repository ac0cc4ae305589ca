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
from tests.servers import RedisDatabase, shared_services

_figures: list[tuple[str, dict[str, Any]]] = []


@pytest.fixture(scope="session")
def load_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadGateways]:
    with shared_services("gateway_load", redis_db=RedisDatabase.LOAD) as services, FakeUpstream() as fake:
        gateways = LoadGateways(tmp_path_factory.mktemp("load"), fake, services)
        _running.append(gateways)
        try:
            yield gateways
        finally:
            _running.clear()
            gateways.stop()


_log_offsets = pytest.StashKey[dict[str, int]]()
_running: list[LoadGateways] = []


@pytest.fixture
def load_run(request: pytest.FixtureRequest, load_gateways: LoadGateways) -> LoadGateways:
    """The session's load gateways, the fake upstream emptied and the gateways' logs marked for this test."""
    load_gateways.fake.reset()
    request.node.stash[_log_offsets] = {
        name: gateway.log_size() for name, gateway in load_gateways.running.items()
    }
    return load_gateways


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach the end of what each load gateway logged during the test."""
    report = yield
    if report.failed and call.when == "call" and _running:
        offsets = item.stash.get(_log_offsets, {})
        for name, gateway in _running[0].running.items():
            lines = gateway.log_since(offsets.get(name, 0)).splitlines()
            problems = [line for line in lines if " INFO " not in line]
            if problems:
                report.sections.append((f"gateway {name!r} log, INFO left out", "\n".join(problems[-200:])))
    return report


@pytest.fixture
def streams(load_run: LoadGateways) -> Target:
    return load_run.target("streams")


@pytest.fixture
def small_pool(load_run: LoadGateways) -> Target:
    return load_run.target("small-pool")


@pytest.fixture
def flood(load_run: LoadGateways) -> Target:
    return load_run.target("flood")


@pytest.fixture
def bodies(load_run: LoadGateways) -> Target:
    return load_run.target("bodies")


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
