"""The client keys' admin: a new key is shown once, on the answer to the save, and never again; only its
hash is stored, and it works with the limits the form set."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from streaming.conf import gateway_settings
from streaming.control.client_keys import CLIENT_KEY_PREFIX, display_prefix, hash_client_key
from streaming.models import ClientKey

pytestmark = pytest.mark.django_db

LIST = "/admin/streaming/clientkey/"
ADD = LIST + "add/"
FORM = {"name": "alice", "is_active": "on", "allowed_models": "claude-*haiku*", "rpm_limit": "60"}


def shown_key(response: Any) -> str:
    """The key on the page that answers the add form."""
    match = re.search(r'id="client-key"[^>]*value="([^"]+)"', response.content.decode())
    assert match, response.content.decode()
    return match.group(1)


def added(client: Client, **fields: str) -> tuple[Any, str]:
    response = client.post(ADD, {**FORM, **fields})
    return response, shown_key(response)


def test_adding_a_key_answers_with_the_key_itself_not_a_redirect(admin_client: Client) -> None:
    response, key = added(admin_client)

    assert response.status_code == 200
    assert key.startswith(CLIENT_KEY_PREFIX)
    assert "It is shown once" in response.content.decode()


def test_only_the_hash_and_a_display_prefix_are_stored(admin_client: Client) -> None:
    _, key = added(admin_client)

    row = ClientKey.objects.get(name="alice")
    assert row.key_hash == hash_client_key(key, gateway_settings.SIGNING_KEY)
    assert row.prefix == display_prefix(key)
    assert key not in str(ClientKey.objects.filter(name="alice").values().get())


def test_the_key_page_is_never_cached_and_the_key_is_in_no_url_or_message(admin_client: Client) -> None:
    response, key = added(admin_client)

    assert "no-store" in response["Cache-Control"]
    assert not response.has_header("Location")
    assert list(response.context["messages"]) == []
    assert "messages" not in response.cookies
    assert key not in response.wsgi_request.get_full_path()


def test_the_key_is_never_shown_again(admin_client: Client) -> None:
    _, key = added(admin_client)
    row = ClientKey.objects.get(name="alice")

    pages = {
        url: admin_client.get(url).content.decode()
        for url in (
            LIST,
            f"{LIST}{row.pk}/change/",
            f"{LIST}{row.pk}/history/",
            f"{LIST}{row.pk}/delete/",
            "/admin/",
        )
    }

    assert [url for url, page in pages.items() if key in page] == []
    assert f"{row.prefix}…" in pages[LIST]


def test_no_log_line_contains_the_key(admin_client: Client, all_logs: pytest.LogCaptureFixture) -> None:
    _, key = added(admin_client)

    assert "INSERT INTO" in all_logs.text
    assert key not in all_logs.text


@pytest.mark.django_db(transaction=True)  # the API reads keys in its own database thread
def test_the_new_key_authenticates_with_the_limits_the_form_set(admin_client: Client, client: Client) -> None:
    _, key = added(admin_client, expires_at_0="", expires_at_1="")

    row = ClientKey.objects.get(name="alice")
    assert (row.allowed_models, row.rpm_limit, row.max_concurrent_streams) == ("claude-*haiku*", 60, None)
    assert client.get("/v1/models", headers={"x-api-key": key}).status_code == 200
    assert client.get("/v1/models", headers={"x-api-key": key + "x"}).status_code == 401


def test_changing_a_keys_limits_keeps_the_key(admin_client: Client) -> None:
    _, key = added(admin_client)
    row = ClientKey.objects.get(name="alice")

    response = admin_client.post(f"{LIST}{row.pk}/change/", {**FORM, "max_concurrent_streams": "2"})

    assert response.status_code == 302, response.content
    row.refresh_from_db()
    assert row.max_concurrent_streams == 2
    assert row.key_hash == hash_client_key(key, gateway_settings.SIGNING_KEY)


def test_the_deactivate_action_turns_keys_off(admin_client: Client) -> None:
    added(admin_client)
    row = ClientKey.objects.get(name="alice")

    response = admin_client.post(
        LIST, {"action": "deactivate", "_selected_action": [str(row.pk)]}, follow=True
    )

    assert [str(message) for message in response.context["messages"]] == ["Deactivated 1 key(s)."]
    row.refresh_from_db()
    assert not row.is_active
