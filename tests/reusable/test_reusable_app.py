"""The app in someone else's Django site: installed, mounted under /llm/, default middleware, no gateway settings.

A bare host site (tests/reusable/settings.py) runs under uvicorn; the official SDK, pointed at
``<site>/llm``, must work unchanged, and the app's management command and checks must be there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import httpx
import pytest

from tests.e2e.helpers import Gateway, answer, launch_gateway, manage
from tests.fakes.upstream import FakeUpstream, text_response_events

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def host_site(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    site = launch_gateway(
        "host-site",
        data_dir=tmp_path_factory.mktemp("host-site"),
        upstream_url=upstream.url,
        extra={"DJANGO_SETTINGS_MODULE": "tests.reusable.settings"},
        app="tests.reusable.asgi:application",
        health_path="/llm/healthz",
    )
    yield site
    site.stop()


@pytest.fixture
def client(host_site: Gateway, upstream: FakeUpstream) -> Iterator[anthropic.Anthropic]:
    upstream.reset()
    with anthropic.Anthropic(
        base_url=f"{host_site.base_url}/llm", api_key=host_site.client_key, max_retries=0
    ) as sdk:
        yield sdk


def test_the_host_site_passes_its_system_checks(host_site: Gateway) -> None:
    assert "no issues" in manage(["check"], host_site.env)


def test_create_works_under_a_prefix(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.set_default(answer(text_response_events("Hello from the host site")))
    message = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the host site"
    assert upstream.requests[-1].headers["x-correlation-id"]


def test_stream_works_under_a_prefix_with_default_middleware(
    client: anthropic.Anthropic, upstream: FakeUpstream
) -> None:
    upstream.set_default(answer(text_response_events(["Hello", " again"])))
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello again"
    assert final.stop_reason == "end_turn"


def test_models_are_listed_under_the_prefix(client: anthropic.Anthropic) -> None:
    assert [m.id for m in client.models.list()]


def test_errors_keep_the_envelope_in_the_host_site(host_site: Gateway) -> None:
    response = httpx.post(f"{host_site.base_url}/llm/v1/messages", json={}, headers={"x-api-key": "wrong"})
    assert response.status_code == 401
    assert json.loads(response.content)["error"]["type"] == "authentication_error"
    assert response.headers["request-id"].startswith("req_")


def test_the_host_sites_own_pages_are_untouched(host_site: Gateway) -> None:
    assert httpx.get(f"{host_site.base_url}/").text == "host site"
