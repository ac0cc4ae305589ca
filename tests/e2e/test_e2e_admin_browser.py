"""The admin in a real browser (Debian's headless Chromium, driven by Playwright) against the real gateway
under uvicorn: an operator logs in, adds an upstream with its key and makes it the default, tests it, adds
a route and a client key (read once), and the official SDK's next request reaches that upstream with that
key; the upstream page shows what it taught and the usage page draws the request.

Each step is screenshotted: into ``docs/img/`` with ``GATEWAY_UPDATE_SCREENSHOTS=1`` (the pictures in
``docs/admin.md``), else into the test's temporary directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.e2e.helpers import (
    REPO_ROOT,
    Gateway,
    answer,
    create_superuser,
    drop_services,
    launch_gateway,
    manage,
    services_env,
    wait_until,
)
from tests.fakes.upstream import FakeUpstream, error, json_response, text_response_events, usage_object
from tests.servers import RedisDatabase, chromium_bin, need

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine's network is closed (and tests talk loopback only): nothing may phone home.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS_ENV = "GATEWAY_UPDATE_SCREENSHOTS"
DOCS_IMG = REPO_ROOT / "docs" / "img"
PASSWORD = "correct horse battery staple"
UPSTREAM_KEY = "fake-upstream-key-typed-in-the-admin-WXYZ"  # not a real key; its last four show in the admin
MODELS = {"object": "list", "data": [{"id": "house-model-1", "object": "model"}]}
REFUSED_TEMPERATURE = {
    "error": {
        "message": "Unsupported parameter: 'temperature' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": "unsupported_parameter",
    }
}

# Example history for a readable chart (and the docs' picture): two other keys over the three weeks before
# today. Today's bar of alice is the test's own request.
HISTORY = """
from datetime import timedelta
from django.utils import timezone
from streaming.models import UsageRecord
now = timezone.now()
UsageRecord.objects.bulk_create(
    UsageRecord(
        created_at=now - timedelta(days=back, minutes=n), key_name=key, endpoint="messages",
        client_model=model, upstream="primary", upstream_model="house-model-1", status=200,
        input_tokens=900 * scale + 170 * ((back + n) % 9), output_tokens=150 * scale + 40 * (back % 5),
    )
    for back in range(1, 22)
    for key, model, scale in (("ci-bot", "claude-haiku-4-5", 1), ("bob", "claude-sonnet-4-6", 3))
    for n in range((back * 7 + scale) % 4 + 1)
)
"""

Page = Any  # playwright.sync_api.Page (imported only once Chromium is known to be there)
Shot = Callable[..., None]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Page]:
    executable = chromium_bin()
    need("Chromium (Debian: apt-get install chromium; .ci/run installs it)", executable)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(executable),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(10_000)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture
def shot(tmp_path: Path) -> Shot:
    folder = DOCS_IMG if os.environ.get(SCREENSHOTS_ENV) == "1" else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, *, full_page: bool = False) -> None:
        page.screenshot(path=str(folder / f"admin-{name}.png"), full_page=full_page)

    return take


@pytest.fixture
def gateway(tmp_path: Path, upstream: FakeUpstream) -> Iterator[Gateway]:
    """A gateway on a fresh database (on the suite's PostgreSQL and Redis when it runs on them) whose
    settings' upstream is the session's fake (it must get nothing)."""
    services = services_env("gateway_admin_browser", redis_db=RedisDatabase.ADMIN_BROWSER)
    gateway = launch_gateway(
        "admin-browser",
        data_dir=tmp_path,
        upstream_url=upstream.url,
        extra={**services, "GATEWAY_USAGE_FLUSH_SECONDS": "0.2"},
    )
    try:
        create_superuser(gateway.env, "ops", PASSWORD)
        manage(["shell", "-c", HISTORY], gateway.env)
        yield gateway
    finally:
        gateway.stop()
        drop_services(services)


def submit(page: Page, button: str = "input[name=_save]") -> None:
    with page.expect_navigation():
        page.click(button)


def run_action(page: Page, action: str) -> None:
    page.check("input[name=_selected_action]")
    page.select_option("select[name=action]", action)
    submit(page, "button[name=index]")


def test_an_operator_sets_the_gateway_up_in_the_browser(
    page: Page, shot: Shot, gateway: Gateway, upstream: FakeUpstream
) -> None:
    admin = f"{gateway.base_url}/admin"
    with FakeUpstream() as primary:
        primary.set_default(json_response(MODELS), path="/v1/models")

        # Log in as the superuser createsuperuser --noinput made.
        page.goto(f"{admin}/")
        page.fill("#id_username", "ops")
        page.fill("#id_password", PASSWORD)
        shot(page, "01-login")
        submit(page, "input[type=submit]")
        assert page.is_visible("#gateway-usage")
        shot(page, "02-index")

        # Add the upstream with its key, as the default; test its connection.
        page.goto(f"{admin}/streaming/upstream/add/")
        page.fill("#id_name", "primary")
        page.fill("#id_base_url", primary.url)
        page.fill("#id_api_key", UPSTREAM_KEY)
        page.check("#id_is_default")
        shot(page, "03-upstream-add")
        submit(page)
        run_action(page, "test_connection")
        assert re.fullmatch(
            r"\s*Upstream primary: GET /models → HTTP 200 in \d+ ms\. 1 model listed\.\s*",
            page.text_content(".messagelist"),
        )
        shot(page, "04-upstreams")

        # A route: every Claude model to the default upstream's house model.
        page.goto(f"{admin}/streaming/modelroute/add/")
        page.fill("#id_pattern", "claude-*")
        page.fill("#id_upstream_model", "house-model-1")
        submit(page)
        shot(page, "05-routes")

        # A client key with limits: shown once, on the page that answers the save.
        page.goto(f"{admin}/streaming/clientkey/add/")
        page.fill("#id_name", "alice")
        page.fill("#id_rpm_limit", "60")
        page.fill("#id_max_concurrent_streams", "4")
        submit(page)
        client_key = page.input_value("#client-key")
        assert client_key.startswith("gwk_")
        shot(page, "06-client-key-once")
        page.click("text=Change this key's limits")
        assert client_key not in page.content()
        shot(page, "07-client-key-change")

        # The SDK's next request reaches the new upstream with the key typed in the admin; the upstream
        # refuses temperature once, and the gateway learns that and asks again without it.
        primary.enqueue(error(400, REFUSED_TEMPERATURE))
        primary.enqueue(answer(text_response_events("Hello from primary", usage=usage_object(21, 8))))
        with anthropic.Anthropic(base_url=gateway.base_url, api_key=client_key, max_retries=0) as sdk:
            message = sdk.messages.create(
                model="claude-sonnet-4-6",
                max_tokens=64,
                extra_body={"temperature": 0.2},  # this SDK version no longer types it; clients still send it
                messages=[{"role": "user", "content": "Hi"}],
            )
        assert message.content[0].text == "Hello from primary"
        sent = [request for request in primary.requests if request.path == "/v1/responses"]
        assert [request.headers["authorization"] for request in sent] == [f"Bearer {UPSTREAM_KEY}"] * 2
        assert [request.json()["model"] for request in sent] == ["house-model-1"] * 2
        assert upstream.requests == []

        # The upstream's page shows what it taught, and never the key.
        page.goto(f"{admin}/streaming/upstream/")
        page.click("text=primary")
        assert "house-model-1: temperature" in page.inner_text(".field-learned")
        assert UPSTREAM_KEY not in page.content()
        shot(page, "08-upstream-learned", full_page=True)

        # The usage page draws that request (usage records are written within the flush interval).
        def drawn() -> bool:
            page.goto(f"{admin}/streaming/usagerecord/chart/")
            return page.locator("svg.usage-chart rect.segment[data-series='alice']").count() == 2

        assert wait_until(drawn, timeout=10.0, interval=0.3)
        tooltips = page.locator("svg.usage-chart rect.segment[data-series='alice'] title").all_text_contents()
        assert [tip.split(" · ")[1] for tip in tooltips] == ["alice: 29 tokens", "alice: 1 requests"]
        shot(page, "09-usage-chart", full_page=True)
        page.goto(f"{admin}/streaming/usagerecord/")
        assert "alice" in page.inner_text("#usage-totals")
        shot(page, "10-usage-records")

    assert UPSTREAM_KEY not in gateway.log_since(0)
    assert client_key not in gateway.log_since(0)
