"""Usage in the admin: read-only records with filters and per-key totals, and the usage page's charts."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from streaming.models import ClientKey, UsageRecord
from tests.unit.test_usage_chart import segments

pytestmark = pytest.mark.django_db

LIST = "/admin/streaming/usagerecord/"
CHART = LIST + "chart/"


def days_ago(days: int) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate() - timedelta(days=days), time(12)))


def record(key: ClientKey | None, *, days: int = 0, **fields: Any) -> UsageRecord:
    values = {
        "created_at": days_ago(days),
        "client_key": key,
        "key_name": key.name if key else "",
        "endpoint": "messages",
        "client_model": "claude-sonnet-4-6",
        "upstream": "openai",
        "upstream_model": "gpt-5",
        "status": 200,
        **fields,
    }
    return UsageRecord.objects.create(**values)


@pytest.fixture
def alice() -> ClientKey:
    return ClientKey.objects.create(name="alice", key_hash="a" * 64, prefix="gwk_alice1")


@pytest.fixture
def bob() -> ClientKey:
    return ClientKey.objects.create(name="bob", key_hash="b" * 64, prefix="gwk_bob123")


@pytest.fixture
def seeded(alice: ClientKey, bob: ClientKey) -> None:
    """Today: alice 2 requests (100+10, 200+20 tokens), bob 1 (1000 + 500 cached + 50), one refused without
    a key. Yesterday: alice on haiku (7+3). 40 days ago: bob (9+1)."""
    record(alice, input_tokens=100, output_tokens=10)
    record(alice, input_tokens=200, output_tokens=20, stream=True)
    record(bob, input_tokens=1000, cache_read_tokens=500, output_tokens=50)
    record(None, status=401, error_type="authentication_error", client_model="")
    record(alice, days=1, client_model="claude-haiku-4-5", input_tokens=7, output_tokens=3)
    record(bob, days=40, input_tokens=9, output_tokens=1, status=529)


# --- the records --------------------------------------------------------------------------------------------


def test_usage_records_cannot_be_added_or_changed(admin_client: Client, alice: ClientKey) -> None:
    row = record(alice)

    assert admin_client.get(LIST + "add/").status_code == 403
    assert admin_client.post(f"{LIST}{row.pk}/change/", {"status": "500"}).status_code == 403
    assert admin_client.get(f"{LIST}{row.pk}/change/").status_code == 200  # viewing is fine
    row.refresh_from_db()
    assert row.status == 200


@pytest.mark.usefixtures("seeded")
def test_the_list_totals_the_selected_records_per_key(admin_client: Client) -> None:
    totals = admin_client.get(LIST).context["usage_totals"]

    assert [
        (row["key_name"], row["requests"], row["errors"], row["input_tokens"]) for row in totals["per_key"]
    ] == [
        ("alice", 3, 0, 307),
        ("bob", 2, 1, 1009),
        ("(no key)", 1, 1, 0),
    ]
    assert totals["all"] == {
        "requests": 6,
        "errors": 2,
        "input_tokens": 1316,
        "cache_read_tokens": 500,
        "cache_creation_tokens": 0,
        "output_tokens": 84,
        "web_search_requests": 0,
    }


@pytest.mark.usefixtures("seeded")
def test_the_totals_follow_the_filters(admin_client: Client, alice: ClientKey) -> None:
    page = admin_client.get(LIST, {"client_key__id__exact": alice.pk, "stream__exact": "0"})

    assert [(row["key_name"], row["requests"]) for row in page.context["usage_totals"]["per_key"]] == [
        ("alice", 2)
    ]
    assert re.search(r'<tr class="all">\s*<th scope="row">All</th><td>2</td>', page.content.decode())


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    ("filters", "count"),
    [
        ({"client_model": "claude-haiku-4-5"}, 1),
        ({"upstream": "openai"}, 6),
        ({"status_class": "ok"}, 4),
        ({"status_class": "client"}, 1),
        ({"status_class": "server"}, 1),
        ({"stream__exact": "1"}, 1),
        ({"endpoint__exact": "messages"}, 6),
        ({"created_at__gte": str(days_ago(0).replace(hour=0))}, 4),
    ],
)
def test_records_filter_by_key_model_upstream_status_stream_and_date(
    admin_client: Client, filters: dict[str, str], count: int
) -> None:
    page = admin_client.get(LIST, filters)

    assert page.status_code == 200
    assert page.context["cl"].result_count == count


# --- the usage page -----------------------------------------------------------------------------------------


def charts(page: Any) -> dict[str, list[tuple[str, str, int]]]:
    """Each chart's segments as (day, series, value), by chart title."""
    return {
        chart["title"]: [
            (segment["data-day"], segment["data-series"], int(segment["data-value"]))
            for segment in segments(str(chart["svg"]))
        ]
        for chart in page.context["charts"]
    }


@pytest.mark.usefixtures("seeded")
def test_the_usage_page_draws_tokens_and_requests_per_day_per_key_and_per_model(admin_client: Client) -> None:
    page = admin_client.get(CHART)
    today, yesterday = str(timezone.localdate()), str(timezone.localdate() - timedelta(days=1))

    assert page.status_code == 200
    assert page.content.decode().count('<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart"') == 4
    assert charts(page) == {
        "Tokens per day, per client key, last 30 days": [
            (yesterday, "alice", 10),
            (today, "bob", 1550),
            (today, "alice", 330),
        ],
        "Requests per day, per client key, last 30 days": [
            (yesterday, "alice", 1),
            (today, "alice", 2),
            (today, "(no key)", 1),
            (today, "bob", 1),
        ],
        "Tokens per day, per client model, last 30 days": [
            (yesterday, "claude-haiku-4-5", 10),
            (today, "claude-sonnet-4-6", 1880),
        ],
        "Requests per day, per client model, last 30 days": [
            (yesterday, "claude-haiku-4-5", 1),
            (today, "claude-sonnet-4-6", 3),
            (today, "(no model)", 1),
        ],
    }


@pytest.mark.usefixtures("seeded")
def test_the_days_selector_widens_the_period(admin_client: Client) -> None:
    page = admin_client.get(CHART, {"days": "90"})
    forty_days_ago = str(timezone.localdate() - timedelta(days=40))

    assert (forty_days_ago, "bob", 10) in charts(page)["Tokens per day, per client key, last 90 days"]
    assert page.context["totals"]["requests"] == 6
    assert 'href="?days=90" class="selected"' in page.content.decode()
    assert "created_at__gte=" in page.context["records_url"]


@pytest.mark.parametrize("days", ["abc", "3", "-1", "100000"])
def test_a_days_value_not_offered_shows_30_days(admin_client: Client, days: str) -> None:
    assert admin_client.get(CHART, {"days": days}).context["days"] == 30


def test_without_usage_the_page_says_so(admin_client: Client) -> None:
    page = admin_client.get(CHART).content.decode()

    assert 'class="usage-chart"' not in page
    assert page.count("No requests in this period.") == 4


def test_the_usage_page_needs_permission_to_view_usage(client: Client) -> None:
    staff = User.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(staff)

    assert client.get(CHART).status_code == 403


def test_the_admin_index_and_the_records_link_the_usage_page(admin_client: Client) -> None:
    assert f'href="{CHART}"' in admin_client.get("/admin/").content.decode()
    assert f'href="{CHART}"' in admin_client.get(LIST).content.decode()
