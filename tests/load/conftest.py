"""The load group's gateways and fake upstream, and the figures every load test prints at the end of the run.

Each gateway is the real one (``uvicorn gateway.asgi:application``, one worker, 127.0.0.1 only) on
PostgreSQL and Redis, as deployed: the suite's servers when it runs on them, else servers of the group's
own (``tests.servers.shared_services``). The gateways share one database, migrated once, and start when
a test first needs them:

- ``streams``: room for 600 upstream connections (500 streams at once), ``/metrics`` on;
- ``small-pool``: 5 upstream connections and a half-second pool wait (issue 9.1 and 9.2), ``/metrics`` on;
- ``flood``: its own Redis database, so the failed authentications it counts for 127.0.0.1 refuse no other
  gateway's requests;
- ``bodies``: defaults only, so its memory figures start from a worker that did nothing else.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import Gateway, create_client_key, gateway_env, manage, start_gateway
from tests.fakes.upstream import FakeUpstream
from tests.load.probes import DatabaseProbe
from tests.load.scenarios import Target
from tests.servers import shared_services

METRICS_TOKEN = "load-metrics-" + secrets.token_hex(8)
SMALL_POOL = {"GATEWAY_MAX_CONNECTIONS": "5", "GATEWAY_POOL_TIMEOUT": "0.5"}
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "streams": {"GATEWAY_MAX_CONNECTIONS": "600", "GATEWAY_METRICS_TOKEN": METRICS_TOKEN},
    "small-pool": {**SMALL_POOL, "GATEWAY_METRICS_TOKEN": METRICS_TOKEN},
    "flood": {},
    "bodies": {},
}
_figures: list[tuple[str, dict[str, Any]]] = []


class LoadGateways:
    """Starts each configuration's gateway on first use; stops them all at the end."""

    def __init__(self, data_dir: Path, fake: FakeUpstream, services: dict[str, str]) -> None:
        self.data_dir = data_dir
        self.fake = fake
        self.services = services
        self.upstream_key = "sk-test-" + secrets.token_hex(24)
        self.env = gateway_env(
            data_dir=data_dir,
            upstream_url=fake.url,
            upstream_key=self.upstream_key,
            extra={**services, "GATEWAY_MODEL_MAP": "claude-*=gpt-5"},
        )
        manage(["migrate", "--noinput", "-v", "0"], self.env)
        self.client_key = create_client_key(self.env, "load")
        self.database = DatabaseProbe(services["DATABASE_URL"])
        self.running: dict[str, Gateway] = {}

    def target(self, name: str) -> Target:
        if name not in self.running:
            env = {**self.env, **CONFIGURATIONS[name]}
            if name == "flood":
                env["REDIS_URL"] = env["REDIS_URL"].rsplit("/", 1)[0] + "/4"
            self.running[name] = start_gateway(
                name,
                env=env,
                client_key=self.client_key,
                upstream_key=self.upstream_key,
                data_dir=self.data_dir,
                log_path=self.data_dir / f"gateway-{name}.log",
            )
        token = CONFIGURATIONS[name].get("GATEWAY_METRICS_TOKEN")
        return Target(self.running[name], self.fake, self.database, metrics_token=token)

    def stop(self) -> None:
        for gateway in self.running.values():
            gateway.stop()
        self.database.close()


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
