"""End-to-end fixtures: one fake upstream and one real gateway process per session, official SDK clients.

Every gateway process shares one data directory (SQLite database, generated secret key), so the client
key created once works on all of them. Extra gateways with other settings start lazily, only when a test
asks for one. When a test fails, the gateway log lines and the upstream requests of that test are added
to its report.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.e2e.helpers import (
    Gateway,
    create_client_key,
    drop_services,
    free_port,
    gateway_env,
    manage,
    services_env,
    start_gateway,
)
from tests.fakes.upstream import FakeUpstream
from tests.servers import RedisDatabase

# Client model names map to real-looking upstream names (GATEWAY_MODEL_MAP is read from the environment).
MODEL_MAP = "*haiku*=gpt-5-mini,claude-*=gpt-5"
# The "tuned" gateway: short ping interval and read timeout, small body limit (tests of those settings).
TUNED_SETTINGS = {
    "GATEWAY_PING_INTERVAL": "0.2",
    "GATEWAY_READ_TIMEOUT": "1.5",
    "GATEWAY_MAX_BODY_BYTES": "65536",
}

ONE_CONNECTION_SETTINGS = {"GATEWAY_MAX_CONNECTIONS": "1", "GATEWAY_POOL_TIMEOUT": "0.5"}

_gateways: dict[str, Gateway] = {}
_log_offsets = pytest.StashKey[dict[str, int]]()
_fake: list[FakeUpstream] = []


class GatewayFactory:
    """Starts gateway processes on demand (one per configuration name) and stops them all at the end."""

    def __init__(self, data_dir: Path, fake: FakeUpstream) -> None:
        self.data_dir = data_dir
        self.fake = fake
        self.upstream_key = "sk-test-" + secrets.token_hex(24)
        base_env = gateway_env(
            data_dir=data_dir,
            upstream_url=fake.url,
            upstream_key=self.upstream_key,
            extra=services_env("gateway_e2e", redis_db=RedisDatabase.E2E),
        )
        base_env["GATEWAY_MODEL_MAP"] = MODEL_MAP
        self.base_env = base_env
        manage(["migrate", "--noinput", "-v", "0"], base_env)
        self.client_key = create_client_key(base_env, "e2e")

    def get(
        self,
        name: str,
        *,
        extra: dict[str, str] | None = None,
        upstream_url: str | None = None,
        upstream_key: bool = True,
    ) -> Gateway:
        if name in _gateways:
            return _gateways[name]
        env = {**self.base_env, **(extra or {})}
        if upstream_url is not None:
            env["OPENAI_BASE_URL"] = upstream_url
        if not upstream_key:
            env.pop("OPENAI_API_KEY", None)
        gateway = start_gateway(
            name,
            env=env,
            client_key=self.client_key,
            upstream_key=self.upstream_key,
            data_dir=self.data_dir,
            log_path=self.data_dir / f"gateway-{name}.log",
        )
        _gateways[name] = gateway
        return gateway

    def stop_all(self) -> None:
        for gateway in list(_gateways.values()):
            gateway.stop()
        _gateways.clear()
        drop_services(self.base_env)


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        _fake.append(fake)
        yield fake
        _fake.clear()


@pytest.fixture(scope="session")
def gateways(
    tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream
) -> Iterator[GatewayFactory]:
    factory = GatewayFactory(tmp_path_factory.mktemp("gateway-data"), fake_upstream)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def gateway(gateways: GatewayFactory) -> Gateway:
    """The gateway with default settings (SECRET_KEY generated into the data dir)."""
    return gateways.get("default")


@pytest.fixture(scope="session")
def tuned_gateway(gateways: GatewayFactory) -> Gateway:
    """A gateway with a short ping interval and read timeout and a small body limit (TUNED_SETTINGS)."""
    return gateways.get("tuned", extra=TUNED_SETTINGS)


@pytest.fixture(scope="session")
def own_cache_gateway(gateways: GatewayFactory) -> Gateway:
    """A gateway whose cache is its own process's memory: what it learns about the upstream (that it has no
    counting endpoint, say) stays with it, where through the shared Redis every other gateway would learn it."""
    return gateways.get("own-cache", extra={"REDIS_URL": ""})


@pytest.fixture(scope="session")
def one_connection_gateway(gateways: GatewayFactory) -> Gateway:
    """A gateway with a single upstream connection and a half-second pool wait (ONE_CONNECTION_SETTINGS)."""
    return gateways.get("one-connection", extra=ONE_CONNECTION_SETTINGS)


@pytest.fixture(scope="session")
def unreachable_gateway(gateways: GatewayFactory) -> Gateway:
    """A gateway whose upstream URL points at a loopback port nobody listens on."""
    return gateways.get("unreachable", upstream_url=f"http://127.0.0.1:{free_port()}/v1")


@pytest.fixture(scope="session")
def keyless_gateway(gateways: GatewayFactory) -> Gateway:
    """A gateway started without OPENAI_API_KEY."""
    return gateways.get("keyless", upstream_key=False)


@pytest.fixture(autouse=True)
def upstream(request: pytest.FixtureRequest, fake_upstream: FakeUpstream) -> FakeUpstream:
    """The session's fake upstream, emptied for this test (queues, recorded requests, disconnects)."""
    fake_upstream.reset()
    request.node.stash[_log_offsets] = {name: gw.log_size() for name, gw in _gateways.items()}
    return fake_upstream


def make_client(gateway: Gateway, **options: object) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=gateway.base_url, api_key=gateway.client_key, max_retries=0, timeout=30.0, **options
    )


@pytest.fixture
def client(gateway: Gateway) -> Iterator[anthropic.Anthropic]:
    with make_client(gateway) as sdk:
        yield sdk


@pytest.fixture
def client_for() -> Iterator[Callable[[Gateway], anthropic.Anthropic]]:
    """An SDK client for another gateway (tuned, unreachable, keyless)."""
    made: list[anthropic.Anthropic] = []

    def build(gateway: Gateway) -> anthropic.Anthropic:
        made.append(make_client(gateway))
        return made[-1]

    yield build
    for sdk in made:
        sdk.close()


@pytest.fixture
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    """Raw HTTP to the default gateway, for what the SDK cannot send (bad JSON, wrong methods, aliases)."""
    with httpx.Client(base_url=gateway.base_url, timeout=30.0) as raw:
        yield raw


def _upstream_summary(fake: FakeUpstream) -> str:
    lines = []
    for req in list(fake.requests):
        body = req.body.decode("utf-8", "replace")
        with contextlib.suppress(ValueError):
            body = json.dumps(json.loads(body), ensure_ascii=False)
        lines.append(f"{req.method} {req.path}{'?' + req.query if req.query else ''} {body[:4000]}")
    return "\n".join(lines) or "(no requests)"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On failure, attach what the gateway logged and what the upstream received during the test."""
    report = yield
    if report.failed and call.when in ("setup", "call"):
        offsets = item.stash.get(_log_offsets, {})
        for name, gw in _gateways.items():
            text = gw.log_since(offsets.get(name, 0))
            if text.strip():
                report.sections.append((f"gateway {name!r} log", text[-20_000:]))
        if _fake:
            report.sections.append(("fake upstream requests", _upstream_summary(_fake[0])))
    return report
