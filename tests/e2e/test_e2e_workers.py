"""Several workers, one behaviour: two gateway processes sharing PostgreSQL and Redis.

A change made anywhere (here: ``manage.py shell`` in a third process, as the admin of another worker
would) reaches both within ``GATEWAY_CONFIG_REFRESH_SECONDS``; a rate limit counts once across both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.e2e.helpers import Gateway, answer, create_client_key, gateway_env, manage, start_gateway
from tests.fakes.events import text_response_events
from tests.fakes.upstream import FakeUpstream
from tests.servers import shared_services

REFRESH = 0.5
# A change must show within the refresh interval; the slack covers a request in flight and a loaded machine.
BOUND = REFRESH + 1.5
REQUEST = {"model": "claude-sonnet-4-6", "max_tokens": 32, "messages": [{"role": "user", "content": "Hi"}]}


class Workers:
    def __init__(self, data_dir: Path, upstream_url: str, services: dict[str, str]) -> None:
        self.env = gateway_env(
            data_dir=data_dir,
            upstream_url=upstream_url,
            upstream_key="sk-test-workers-settings-key",
            extra={
                **services,
                "GATEWAY_CONFIG_REFRESH_SECONDS": str(REFRESH),
                "GATEWAY_MODEL_MAP": "claude-*=gpt-5",
            },
        )
        manage(["migrate", "--noinput", "-v", "0"], self.env)
        self.key = create_client_key(self.env, "shared")
        self.gateways = [
            start_gateway(
                name,
                env=self.env,
                client_key=self.key,
                upstream_key="sk-test-workers-settings-key",
                data_dir=data_dir,
                log_path=data_dir / f"{name}.log",
            )
            for name in ("worker-1", "worker-2")
        ]

    def shell(self, code: str) -> str:
        """Change the configuration from a third process (the admin of some other worker)."""
        return manage(["shell", "-c", code], self.env)

    def status(self, gateway: Gateway, key: str | None = None) -> int:
        client = anthropic.Anthropic(
            base_url=gateway.base_url, api_key=key or self.key, max_retries=0, timeout=10
        )
        with client:
            try:
                client.messages.create(**REQUEST)
            except anthropic.APIStatusError as error:
                return error.status_code
        return 200

    def stop(self) -> None:
        for gateway in self.gateways:
            gateway.stop()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream) -> Iterator[Workers]:
    with shared_services("gateway_workers", redis_db=2) as services:
        pool = Workers(tmp_path_factory.mktemp("workers"), fake_upstream.url, services)
        try:
            yield pool
        finally:
            pool.stop()


@pytest.fixture(autouse=True)
def _answers(upstream: FakeUpstream) -> None:
    upstream.set_default(answer(text_response_events("Hi")))


def until(predicate: object, bound: float) -> float:
    """Seconds until ``predicate()`` held (polled), or fail after ``bound`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"not within {bound} s")


def test_a_key_created_elsewhere_works_on_both_workers(workers: Workers) -> None:
    key = create_client_key(workers.env, "new")

    assert [workers.status(gateway, key) for gateway in workers.gateways] == [200, 200]


def test_a_deactivated_key_is_refused_by_both_workers_within_the_refresh_bound(workers: Workers) -> None:
    key = create_client_key(workers.env, "leaving")
    assert [workers.status(gateway, key) for gateway in workers.gateways] == [200, 200]

    workers.shell(
        "from streaming.models import ClientKey; k = ClientKey.objects.get(name='leaving'); k.is_active = False; k.save()"
    )

    for gateway in workers.gateways:
        took = until(lambda gateway=gateway: workers.status(gateway, key) == 401, BOUND)
        assert took <= BOUND


def test_a_rate_limit_holds_once_across_both_workers(workers: Workers) -> None:
    create_client_key(workers.env, "limited")
    key = create_client_key(workers.env, "limited-key")
    workers.shell(
        "from streaming.models import ClientKey; "
        "k = ClientKey.objects.get(name='limited-key'); k.rpm_limit = 3; k.save()"
    )
    time.sleep(BOUND)  # the new limit reached both workers
    if time.time() % 60 > 50:  # four requests must fall in one clock-minute window
        time.sleep(61 - time.time() % 60)
    first, second = workers.gateways

    statuses = [workers.status(gateway, key) for gateway in (first, second, first, second)]

    assert statuses == [200, 200, 200, 429]


def test_an_upstream_made_default_elsewhere_reaches_both_workers(workers: Workers) -> None:
    with FakeUpstream() as other:
        other.set_default(answer(text_response_events("from the other upstream")))
        workers.shell(
            "from streaming.models import Upstream; Upstream.objects.create(name='other', "
            f"base_url='{other.url}', api_key='sk-other-upstream-key-1', is_default=True)"
        )
        try:
            for gateway in workers.gateways:

                def reaches_other(gateway: Gateway = gateway) -> bool:
                    before = len(other.requests)
                    return workers.status(gateway) == 200 and len(other.requests) > before

                assert until(reaches_other, BOUND) <= BOUND
            assert {request.headers["authorization"] for request in other.requests} == {
                "Bearer sk-other-upstream-key-1"
            }
        finally:
            workers.shell(
                "from streaming.models import Upstream; Upstream.objects.filter(name='other').delete()"
            )
