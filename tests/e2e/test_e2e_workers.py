"""Several workers, one behaviour: two gateway processes sharing PostgreSQL and Redis.

Every change is made through the admin of the first worker, over HTTP with a logged-in session (as an
operator's script, or browser, would); both workers must show it within ``GATEWAY_CONFIG_REFRESH_SECONDS``.
A rate limit counts once across both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anthropic
import pytest

from tests.e2e.helpers import (
    AdminSession,
    Gateway,
    answer,
    create_client_key,
    create_superuser,
    gateway_env,
    manage,
    start_gateway,
)
from tests.fakes.events import text_response_events
from tests.fakes.upstream import FakeUpstream
from tests.servers import RedisDatabase, shared_services

REFRESH = 0.5
# A change must show within the refresh interval; the slack covers a request in flight and a loaded machine.
BOUND = REFRESH + 1.5
PASSWORD = "correct horse battery staple"
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
                # Only the version stamp in Redis can make the other worker notice in time.
                "GATEWAY_CONFIG_MAX_AGE_SECONDS": "600",
                "GATEWAY_MODEL_MAP": "claude-*=gpt-5",
            },
        )
        manage(["migrate", "--noinput", "-v", "0"], self.env)
        create_superuser(self.env, "operator", PASSWORD)
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
        self.admin = AdminSession(self.gateways[0].base_url, "operator", PASSWORD)

    def status(self, gateway: Gateway, key: str | None = None) -> int:
        client = anthropic.Anthropic(
            base_url=gateway.base_url, api_key=key or self.key, max_retries=0, timeout=10
        )
        with client:
            try:
                client.messages.create(**REQUEST)  # type: ignore[arg-type]
            except anthropic.APIStatusError as error:
                return error.status_code
        return 200

    def stop(self) -> None:
        self.admin.close()
        for gateway in self.gateways:
            gateway.stop()


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream) -> Iterator[Workers]:
    with shared_services("gateway_workers", redis_db=RedisDatabase.WORKERS) as services:
        pool = Workers(tmp_path_factory.mktemp("workers"), fake_upstream.url, services)
        try:
            yield pool
        finally:
            pool.stop()


@pytest.fixture(autouse=True)
def _answers(upstream: FakeUpstream) -> None:
    upstream.set_default(answer(text_response_events("Hi")))


def within(bound: float, predicate: Callable[[], bool]) -> float:
    """Seconds until ``predicate()`` held (polled), or fail after ``bound`` seconds."""
    started = time.monotonic()
    while time.monotonic() - started < bound:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.05)
    pytest.fail(f"not within {bound} s")


def test_a_key_created_in_the_admin_of_one_worker_works_on_both(workers: Workers) -> None:
    _, key = workers.admin.create_client_key("new")

    for gateway in workers.gateways:
        within(BOUND, lambda gateway=gateway: workers.status(gateway, key) == 200)  # type: ignore[misc]


def test_a_key_deactivated_on_one_worker_is_refused_by_both_within_the_refresh_bound(
    workers: Workers,
) -> None:
    key_id, key = workers.admin.create_client_key("leaving")
    for gateway in workers.gateways:
        within(BOUND, lambda gateway=gateway: workers.status(gateway, key) == 200)  # type: ignore[misc]

    workers.admin.change_client_key(key_id, "leaving")  # is_active left unchecked: deactivated

    for gateway in workers.gateways:
        within(BOUND, lambda gateway=gateway: workers.status(gateway, key) == 401)  # type: ignore[misc]


def test_a_rate_limit_holds_once_across_both_workers(workers: Workers) -> None:
    _, key = workers.admin.create_client_key("limited", rpm_limit="3")
    time.sleep(BOUND)  # the new key reached both workers
    if time.time() % 60 > 50:  # four requests must fall in one clock-minute window
        time.sleep(61 - time.time() % 60)
    first, second = workers.gateways

    statuses = [workers.status(gateway, key) for gateway in (first, second, first, second)]

    assert statuses == [200, 200, 200, 429]


def test_an_upstream_made_default_in_the_admin_reaches_both_workers(workers: Workers) -> None:
    with FakeUpstream() as other:
        other.set_default(answer(text_response_events("from the other upstream")))
        upstream_id = workers.admin.add(
            "upstream",
            {
                "name": "other",
                "base_url": other.url,
                "auth_scheme": "bearer",
                "api_key": "sk-other-upstream-key-1",
                "enabled": "on",
                "is_default": "on",
                "extra_headers": "{}",
            },
        )
        try:
            for gateway in workers.gateways:

                def reaches_other(gateway: Gateway = gateway) -> bool:
                    before = len(other.requests)
                    return workers.status(gateway) == 200 and len(other.requests) > before

                within(BOUND, reaches_other)
            assert {request.headers["authorization"] for request in other.requests} == {
                "Bearer sk-other-upstream-key-1"
            }
        finally:
            workers.admin.save(f"/admin/streaming/upstream/{upstream_id}/delete/", {"post": "yes"})
