"""The admin site as a whole: a superuser from the environment, login, and the model routes' admin."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from streaming.control.version import current_version
from streaming.models import ModelRoute, Upstream

pytestmark = pytest.mark.django_db

ROUTES = "/admin/streaming/modelroute/"


def test_createsuperuser_without_input_reads_the_django_superuser_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long passphrase")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")

    call_command("createsuperuser", "--noinput", verbosity=0)

    user = User.objects.get(username="ops")
    assert (user.is_superuser, user.is_staff, user.email) == (True, True, "ops@example.com")
    assert user.check_password("a long passphrase")


def test_the_admin_asks_visitors_to_log_in(client: Client) -> None:
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/admin/"


def test_the_admin_logs_a_superuser_in(client: Client, admin_user: User) -> None:
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "password"})

    assert response.status_code == 302
    assert "Upstreams" in client.get("/admin/").content.decode()


def test_a_route_without_an_upstream_is_offered_as_going_to_the_default(admin_client: Client) -> None:
    page = admin_client.get(ROUTES + "add/").content.decode()

    assert '<option value="" selected>— the default upstream —</option>' in page


def set_priority_in_the_list(admin_client: Client, route: ModelRoute, priority: int) -> Any:
    """Save the route list's form with a new priority for ``route`` (its unchecked "enabled" goes false)."""
    return admin_client.post(
        ROUTES,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-0-id": str(route.pk),
            "form-0-priority": str(priority),
            "_save": "Save",
        },
    )


def test_route_priority_and_enabled_are_editable_in_the_list(admin_client: Client) -> None:
    upstream = Upstream.objects.create(name="openai", base_url="https://api.openai.test/v1")
    route = ModelRoute.objects.create(pattern="claude-*", upstream=upstream, upstream_model="gpt-5")
    before = async_to_sync(current_version)()

    response = set_priority_in_the_list(admin_client, route, 5)

    assert response.status_code == 302, response.content
    route.refresh_from_db()
    assert (route.priority, route.enabled) == (5, False)
    assert async_to_sync(current_version)() != before  # every worker re-reads its routes


def test_a_change_saved_in_a_transaction_bumps_the_version_again_once_committed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ModelRoute.objects.create(pattern="claude-*", upstream_model="gpt-5")
        before_commit = async_to_sync(current_version)()

    assert async_to_sync(current_version)() != before_commit


@pytest.mark.usefixtures("redis_down")
def test_while_redis_is_down_a_change_saved_in_the_admin_still_stands(
    admin_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """A key must be revocable during an outage: workers re-read within GATEWAY_CONFIG_MAX_AGE_SECONDS."""
    route = ModelRoute.objects.create(pattern="claude-*", upstream_model="gpt-5")

    response = set_priority_in_the_list(admin_client, route, 5)

    assert response.status_code == 302
    route.refresh_from_db()
    assert route.priority == 5
    assert "the shared cache (Redis) is unreachable" in caplog.text


def test_the_route_list_names_the_default_upstream_for_routes_without_one(admin_client: Client) -> None:
    ModelRoute.objects.create(pattern="claude-*", upstream_model="gpt-5")

    assert "(the default upstream)" in admin_client.get(ROUTES).content.decode()


def test_the_route_list_sums_up_each_routes_profile_overrides(admin_client: Client) -> None:
    ModelRoute.objects.create(pattern="a*", reasoning="on", max_output_tokens=32768, default_effort="high")
    ModelRoute.objects.create(pattern="b*")

    page = admin_client.get(ROUTES).content.decode()

    assert "reasoning on, max output 32,768, effort high" in page
    assert '<td class="field-profile">—</td>' in page
