"""A route switched in the admin while the gateway runs sends the next request to the new upstream: on the
worker that saved it at once, on any other worker within ``GATEWAY_CONFIG_REFRESH_SECONDS``.

Two gateway processes under uvicorn share PostgreSQL and Redis (``tests.servers.shared_services``: the
version stamp in the shared cache is how other workers notice); the admin is driven through its own forms
over HTTP with a logged-in session, as an operator's script would; the official SDK sends the requests;
two fake upstreams say where they went.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.e2e.helpers import (
    AdminSession,
    Gateway,
    answer,
    create_superuser,
    free_port,
    launch_gateway,
    start_gateway,
    wait_until,
)
from tests.fakes.upstream import FakeUpstream, text_response_events
from tests.servers import RedisDatabase, shared_services

pytestmark = pytest.mark.e2e

REFRESH_SECONDS = 0.5
PASSWORD = "correct horse battery staple"


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[tuple[Gateway, Gateway]]:
    """Two workers on one database and cache; the settings' upstream is unreachable, so only routes answer.

    The maximum snapshot age is long: only the version stamp can make the second worker notice in time.
    """
    with shared_services("gateway_admin_routes", redis_db=RedisDatabase.ADMIN_ROUTES) as services:
        saving = launch_gateway(
            "admin-saving",
            data_dir=tmp_path,
            upstream_url=f"http://127.0.0.1:{free_port()}/v1",
            extra={
                **services,
                "GATEWAY_CONFIG_REFRESH_SECONDS": str(REFRESH_SECONDS),
                "GATEWAY_CONFIG_MAX_AGE_SECONDS": "600",
            },
        )
        other = start_gateway(
            "admin-other",
            env=saving.env,
            client_key=saving.client_key,
            upstream_key=saving.upstream_key,
            data_dir=tmp_path,
            log_path=tmp_path / "admin-other.log",
        )
        try:
            yield saving, other
        finally:
            other.stop()
            saving.stop()


def upstream_form(name: str, fake: FakeUpstream) -> dict[str, str]:
    return {
        "name": name,
        "base_url": fake.url,
        "auth_scheme": "bearer",
        "api_key": f"sk-{name}-key-0123456789",
        "enabled": "on",
        "extra_headers": "{}",
    }


def route_form(upstream_id: int, upstream_model: str) -> dict[str, str]:
    return {
        "pattern": "claude-*",
        "upstream": str(upstream_id),
        "upstream_model": upstream_model,
        "priority": "100",
        "enabled": "on",
        "reasoning": "auto",
    }


def ask(gateway: Gateway) -> str:
    """One request through the official SDK; the text of the answer (each fake answers with its name)."""
    with anthropic.Anthropic(base_url=gateway.base_url, api_key=gateway.client_key, max_retries=0) as sdk:
        message = sdk.messages.create(
            model="claude-sonnet-4-6", max_tokens=32, messages=[{"role": "user", "content": "Who are you?"}]
        )
    return "".join(block.text for block in message.content if block.type == "text")


def test_a_route_switched_in_the_admin_moves_the_next_request(
    workers: tuple[Gateway, Gateway], upstream: FakeUpstream
) -> None:
    saving, other = workers
    create_superuser(saving.env, "ops", PASSWORD)
    with FakeUpstream() as second, AdminSession(saving.base_url, "ops", PASSWORD) as admin:
        upstream.set_default(answer(text_response_events("first")))
        second.set_default(answer(text_response_events("second")))
        first_id = admin.add("upstream", upstream_form("first", upstream))
        second_id = admin.add("upstream", upstream_form("second", second))
        route_id = admin.add("modelroute", route_form(first_id, "model-one"))
        assert (ask(saving), ask(other)) == ("first", "first")

        admin.save(f"/admin/streaming/modelroute/{route_id}/change/", route_form(second_id, "model-two"))
        saved_at = time.monotonic()
        at_once = ask(saving)
        assert wait_until(lambda: ask(other) == "second", timeout=REFRESH_SECONDS + 2.0, interval=0.1)
        noticed_after = time.monotonic() - saved_at

    assert at_once == "second"
    assert noticed_after < REFRESH_SECONDS + 1.0
    assert [request.json()["model"] for request in second.requests] == ["model-two"] * len(second.requests)
    assert {request.headers["authorization"] for request in second.requests} == {
        "Bearer sk-second-key-0123456789"
    }
