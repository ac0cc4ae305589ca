"""The upstreams' admin: the key is write-only and encrypted, one default at a time, test connection, and
what each upstream taught. Driven with Django's test client as a logged-in superuser; upstreams are
mocked by respx."""

from __future__ import annotations

import sys
from typing import Any

import httpx2
import pytest
import respx
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission, User
from django.core.signals import got_request_exception
from django.test import Client, override_settings
from django.views.debug import ExceptionReporter

from streaming.control import capabilities
from streaming.models import ModelRoute, Upstream
from tests.unit.test_upstream_secrets import stored

pytestmark = pytest.mark.django_db

SECRET = "sk-admin-test-0123456789abcWXYZ"
BASE = "https://api.openai.test/v1"
LIST = "/admin/streaming/upstream/"
ADD = LIST + "add/"
MODELS = {
    "object": "list",
    "data": [{"id": "gpt-5", "object": "model"}, {"id": "gpt-5-mini", "object": "model"}],
}


def change_url(upstream: Upstream) -> str:
    return f"{LIST}{upstream.pk}/change/"


def form(**fields: Any) -> dict[str, Any]:
    """The upstream form as a browser posts it (unchecked boxes are absent)."""
    data = {
        "name": "openai",
        "base_url": BASE,
        "auth_scheme": "bearer",
        "api_key": SECRET,
        "enabled": "on",
        "extra_headers": "{}",
        "connect_timeout": "",
        "read_timeout": "",
        **fields,
    }
    return {name: value for name, value in data.items() if value is not False}


def make(**fields: Any) -> Upstream:
    return Upstream.objects.create(**{"name": "openai", "base_url": BASE, "api_key": SECRET, **fields})


def act(client: Client, action: str, *upstreams: Upstream) -> Any:
    """Run a list action on ``upstreams``; the page it lands on (with its messages)."""
    data = {"action": action, "_selected_action": [str(row.pk) for row in upstreams]}
    return client.post(LIST, data, follow=True)


def shown(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- the key: write-only, encrypted ---------------------------------------------------------------------


def test_a_key_saved_through_the_admin_is_ciphertext_in_the_database(admin_client: Client) -> None:
    response = admin_client.post(ADD, form())

    assert response.status_code == 302, response.content
    upstream = Upstream.objects.get(name="openai")
    assert SECRET not in stored(upstream)
    assert upstream.api_key == SECRET


def test_the_change_form_never_contains_the_stored_key_only_its_last_four(admin_client: Client) -> None:
    upstream = make()

    page = admin_client.get(change_url(upstream)).content.decode()

    assert SECRET not in page
    assert SECRET[:-4] not in page
    assert "…WXYZ" in page
    assert 'name="api_key"' in page
    assert 'type="password"' in page


def test_a_user_who_may_only_view_upstreams_sees_the_hint_not_the_key(client: Client) -> None:
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_upstream"))
    client.force_login(viewer)
    upstream = make()

    page = client.get(change_url(upstream)).content.decode()

    assert SECRET not in page
    assert "…WXYZ" in page
    assert "API key" not in page


def test_leaving_the_key_blank_keeps_the_stored_key(admin_client: Client) -> None:
    upstream = make()

    response = admin_client.post(change_url(upstream), form(api_key="", base_url="https://other.test/v1"))

    assert response.status_code == 302, response.content
    upstream.refresh_from_db()
    assert (upstream.api_key, upstream.base_url) == (SECRET, "https://other.test/v1")


def test_a_new_key_replaces_the_stored_one(admin_client: Client) -> None:
    upstream = make()

    admin_client.post(change_url(upstream), form(api_key="sk-admin-new-key-000000001234"))

    upstream.refresh_from_db()
    assert upstream.api_key == "sk-admin-new-key-000000001234"
    assert upstream.api_key_hint == "…1234"


def test_remove_the_stored_key_leaves_none(admin_client: Client) -> None:
    upstream = make()

    admin_client.post(change_url(upstream), form(api_key="", clear_api_key="on"))

    upstream.refresh_from_db()
    assert (upstream.api_key, upstream.api_key_hint, stored(upstream)) == ("", "", "")


def test_a_new_key_and_removing_the_key_at_once_is_refused(admin_client: Client) -> None:
    upstream = make()

    response = admin_client.post(
        change_url(upstream), form(api_key="sk-admin-new-key-000000001234", clear_api_key="on")
    )

    assert response.status_code == 200
    assert "Enter a new key or remove the stored one, not both." in response.content.decode()
    upstream.refresh_from_db()
    assert upstream.api_key == SECRET


def test_a_key_no_configured_key_decrypts_is_kept_when_the_form_is_saved_blank(admin_client: Client) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[old]):
        upstream = make()
    token = stored(upstream)
    with override_settings(GATEWAY_ENCRYPTION_KEYS=[new]):
        page = admin_client.get(change_url(upstream)).content.decode()
        admin_client.post(change_url(upstream), form(api_key="", base_url="https://other.test/v1"))

    assert "cannot be decrypted with the configured keys: enter it again" in page
    assert stored(upstream) == token


def test_no_admin_page_or_log_line_contains_the_key(
    admin_client: Client, all_logs: pytest.LogCaptureFixture
) -> None:
    refused = admin_client.post(ADD, form(base_url="not a url")).content.decode()
    admin_client.post(ADD, form())
    upstream = Upstream.objects.get(name="openai")
    pages = [
        admin_client.get(url).content.decode()
        for url in (
            LIST,
            change_url(upstream),
            f"{LIST}{upstream.pk}/history/",
            f"{LIST}{upstream.pk}/delete/",
        )
    ]

    assert "Enter the upstream" in refused
    assert not [page for page in [refused, *pages] if SECRET in page]
    assert "INSERT INTO" in all_logs.text
    assert SECRET not in all_logs.text


def test_a_crash_while_saving_leaves_the_key_out_of_the_error_report(
    client: Client, admin_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.raise_request_exception = False
    client.force_login(admin_user)
    reports: list[str] = []

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    def report(sender: Any, request: Any, **kwargs: Any) -> None:
        # What Django's error reporting (AdminEmailHandler) renders: the POST and every frame's variables.
        reports.append(ExceptionReporter(request, *sys.exc_info(), is_email=True).get_traceback_text())

    monkeypatch.setattr(Upstream, "save", crash)
    got_request_exception.connect(report)
    try:
        response = client.post(ADD, form())
    finally:
        got_request_exception.disconnect(report)

    assert response.status_code == 500
    [text] = reports
    assert "database went away" in text
    assert "api_key" in text
    assert SECRET not in text
    assert SECRET not in response.content.decode()


# --- one default -----------------------------------------------------------------------------------------


def test_saving_a_new_default_unsets_the_old_one(admin_client: Client) -> None:
    old = make(name="old", is_default=True)

    response = admin_client.post(ADD, form(name="new", is_default="on"))

    assert response.status_code == 302, response.content
    assert list(Upstream.objects.filter(is_default=True).values_list("name", flat=True)) == ["new"]
    old.refresh_from_db()
    assert not old.is_default


def test_the_make_default_action_moves_the_default(admin_client: Client) -> None:
    make(name="old", is_default=True)
    new = make(name="new")

    response = act(admin_client, "make_default", new)

    assert shown(response) == ["new is now the default upstream."]
    assert list(Upstream.objects.filter(is_default=True).values_list("name", flat=True)) == ["new"]


def test_make_default_refuses_a_disabled_upstream_and_keeps_the_old_default(admin_client: Client) -> None:
    make(name="old", is_default=True)
    disabled = make(name="off", enabled=False)

    response = act(admin_client, "make_default", disabled)

    assert "off is disabled: enable it first" in shown(response)[0]
    assert list(Upstream.objects.filter(is_default=True).values_list("name", flat=True)) == ["old"]


def test_make_default_wants_exactly_one_upstream(admin_client: Client) -> None:
    response = act(admin_client, "make_default", make(name="a"), make(name="b"))

    assert shown(response) == ["Select exactly one upstream to make it the default."]
    assert not Upstream.objects.filter(is_default=True).exists()


def test_the_name_settings_is_reserved_for_the_settings_upstream(admin_client: Client) -> None:
    response = admin_client.post(ADD, form(name="settings"))

    assert response.status_code == 200
    assert "is the name of the upstream the settings describe" in response.content.decode()


# --- test connection -------------------------------------------------------------------------------------


def test_test_connection_reports_status_latency_and_models(admin_client: Client) -> None:
    upstream = make()
    with respx.mock:
        models = respx.get(f"{BASE}/models").respond(json=MODELS)
        response = act(admin_client, "test_connection", upstream)

    [message] = shown(response)
    assert message.startswith("Upstream openai: GET /models → HTTP 200 in ")
    assert message.endswith(" ms. 2 models listed.")
    assert models.calls.last.request.headers["authorization"] == f"Bearer {SECRET}"


def test_test_connection_shows_the_upstreams_error_redacted_and_never_the_key(admin_client: Client) -> None:
    upstream = make()
    echo = {"error": {"message": f"Incorrect API key provided: {SECRET}.", "code": "invalid_api_key"}}
    with respx.mock:
        respx.get(f"{BASE}/models").respond(401, json=echo)
        response = act(admin_client, "test_connection", upstream)

    [message] = shown(response)
    assert message.startswith("Upstream openai: GET /models → HTTP 401 in ")
    assert "Incorrect API key provided: [redacted]." in message
    assert SECRET not in response.content.decode()


def test_test_connection_says_when_nothing_answers(admin_client: Client) -> None:
    upstream = make()
    with respx.mock:
        respx.get(f"{BASE}/models").mock(side_effect=httpx2.ConnectError("connection refused"))
        response = act(admin_client, "test_connection", upstream)

    [message] = shown(response)
    assert message.startswith("Upstream openai: GET /models → no answer in ")
    assert message.endswith("upstream unreachable.")


def test_test_connection_names_routed_models_the_upstream_does_not_list(admin_client: Client) -> None:
    upstream = make()
    ModelRoute.objects.create(pattern="claude-*", upstream=upstream, upstream_model="gpt-6")
    with respx.mock:
        respx.get(f"{BASE}/models").respond(json=MODELS)
        response = act(admin_client, "test_connection", upstream)

    assert shown(response)[0].endswith("2 models listed. Routes send gpt-6 here, which it does not list.")


def test_test_connection_tests_every_selected_upstream(admin_client: Client) -> None:
    first, second = make(name="first"), make(name="second", base_url="https://second.test/v1")
    with respx.mock:
        respx.get(f"{BASE}/models").respond(json=MODELS)
        respx.get("https://second.test/v1/models").respond(503)
        response = act(admin_client, "test_connection", first, second)

    assert sorted(message.split(" in ")[0] for message in shown(response)) == [
        "Upstream first: GET /models → HTTP 200",
        "Upstream second: GET /models → HTTP 503",
    ]


# --- what upstreams taught ---------------------------------------------------------------------------------


def test_the_upstream_page_shows_what_it_taught(admin_client: Client) -> None:
    upstream = make()
    capabilities.learn("openai", "gpt-5", "temperature")
    capabilities.learn("openai", "gpt-5", "reasoning.summary")

    page = admin_client.get(change_url(upstream)).content.decode()

    assert '<li style="list-style: none"><code>gpt-5</code>: temperature</li>' in page
    assert '<li style="list-style: none"><code>every model</code>: reasoning.summary</li>' in page


def test_the_forget_action_forgets_what_the_upstream_taught(admin_client: Client) -> None:
    upstream = make()
    capabilities.learn("openai", "gpt-5", "temperature")

    response = act(admin_client, "forget_learned", upstream)

    assert shown(response) == ["Forgot what openai taught; the next requests ask again."]
    assert capabilities.learned("openai") == {}


def test_the_list_shows_and_forgets_what_the_settings_upstream_taught(admin_client: Client) -> None:
    capabilities.learn("settings", "gpt-5", "top_p")

    page = admin_client.get(LIST).content.decode()
    response = admin_client.post(f"{LIST}settings/forget/", follow=True)

    assert '<li style="list-style: none"><code>gpt-5</code>: top_p</li>' in page
    assert shown(response) == ["Forgot what the settings' upstream taught."]
    assert capabilities.learned("settings") == {}


@pytest.mark.usefixtures("redis_down")
def test_while_redis_is_down_the_upstream_pages_open_and_say_what_they_cannot_know(
    admin_client: Client,
) -> None:
    upstream = make()

    listing = admin_client.get(LIST)
    page = admin_client.get(change_url(upstream))

    assert (listing.status_code, page.status_code) == (200, 200)
    assert "Unknown: the shared cache (Redis) is unreachable." in page.content.decode()
    assert "unknown (the shared cache is unreachable)" in listing.content.decode()


@pytest.mark.usefixtures("redis_down")
def test_while_redis_is_down_forgetting_says_nothing_was_forgotten(admin_client: Client) -> None:
    upstream = make()

    from_list = act(admin_client, "forget_learned", upstream)
    settings_one = admin_client.post(f"{LIST}settings/forget/", follow=True)

    cannot = "Nothing was forgotten: the shared cache (Redis) is unreachable. Try again once it is back."
    assert (shown(from_list), shown(settings_one)) == ([cannot], [cannot])


def test_forgetting_the_settings_upstream_takes_a_post(admin_client: Client) -> None:
    assert admin_client.get(f"{LIST}settings/forget/").status_code == 405
