"""Usage in the admin: the records (read-only, filterable, with per-key totals of what the filters select)
and the usage page, which draws tokens and requests per day, per client key and per client model.

Both aggregate in the database (``Count``/``Sum`` grouped by key, or by day and key/model), so the page
costs a few grouped queries however many records there are; only the per-day series are built in Python,
by the pure ``charts`` module.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from streaming.admin.charts import Series, pivot, stacked_bar_chart
from streaming.models import UsageRecord

DAY_CHOICES = (7, 14, 30, 90, 180, 365)
DEFAULT_DAYS = 30
NO_KEY = "(no key)"
NO_MODEL = "(no model)"

TOKENS = F("input_tokens") + F("cache_read_tokens") + F("cache_creation_tokens") + F("output_tokens")
"""Everything the upstream processed: input (Anthropic counts cached input apart) plus output."""

TOTALS = {
    "requests": Count("id"),
    "errors": Count("id", filter=Q(status__gte=400)),
    "input_tokens": Coalesce(Sum("input_tokens"), 0),
    "cache_read_tokens": Coalesce(Sum("cache_read_tokens"), 0),
    "cache_creation_tokens": Coalesce(Sum("cache_creation_tokens"), 0),
    "output_tokens": Coalesce(Sum("output_tokens"), 0),
    "web_search_requests": Coalesce(Sum("web_search_requests"), 0),
}


def usage_totals(records: QuerySet[UsageRecord]) -> dict[str, Any]:
    """Totals of ``records`` (all of them, and per key name, most requests first): one grouped query each."""
    records = records.order_by()
    per_key = [
        {**row, "key_name": row["key_name"] or NO_KEY}
        for row in records.values("key_name").annotate(**TOTALS).order_by("-requests", "key_name")
    ]
    return {"all": records.aggregate(**TOTALS), "per_key": per_key}


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status_class"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("ok", "2xx: answered"),
            ("client", "4xx: refused (bad request, key, limits)"),
            ("rate", "429: over a limit"),
            ("server", "5xx: upstream or gateway failure"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[UsageRecord]) -> QuerySet[UsageRecord]:
        ranges = {
            "ok": Q(status__gte=200, status__lt=300),
            "client": Q(status__gte=400, status__lt=500),
            "rate": Q(status=429),
            "server": Q(status__gte=500),
        }
        chosen = ranges.get(self.value() or "")
        return queryset if chosen is None else queryset.filter(chosen)


@admin.register(UsageRecord)
class UsageRecordAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "created_at",
        "key_name",
        "client_model",
        "upstream",
        "stream",
        "status",
        "input_tokens",
        "output_tokens",
        "duration_ms",
        "outcome",
    )
    list_filter = (
        ("client_key", admin.RelatedOnlyFieldListFilter),
        ("client_model", admin.AllValuesFieldListFilter),
        ("upstream", admin.AllValuesFieldListFilter),
        StatusFilter,
        "stream",
        "endpoint",
        "created_at",
    )
    date_hierarchy = "created_at"
    search_fields = ("key_name", "client_model", "upstream_model", "correlation_id")
    list_per_page = 100
    change_list_template = "admin/streaming/usagerecord/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: UsageRecord | None = None) -> bool:
        return False

    @admin.display(description="outcome")
    def outcome(self, obj: UsageRecord) -> str:
        return obj.stop_reason or obj.error_type or obj.cause or ""

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if isinstance(response, TemplateResponse) and context is not None and "cl" in context:
            context["usage_totals"] = usage_totals(context["cl"].queryset)
        return response

    def get_urls(self) -> list[URLPattern]:
        return [
            path("chart/", self.admin_site.admin_view(self.usage_view), name="streaming_usagerecord_chart"),
            *super().get_urls(),
        ]

    def usage_view(self, request: HttpRequest) -> HttpResponse:
        """The usage page: tokens and requests per day, per client key and per client model."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        days = _days_param(request.GET.get("days"))
        today = timezone.localdate()
        day_list = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
        since = timezone.make_aware(datetime.combine(day_list[0], time.min))
        records = UsageRecord.objects.filter(created_at__gte=since)
        charts = []
        for field, heading, missing in (
            ("key_name", "per client key", NO_KEY),
            ("client_model", "per client model", NO_MODEL),
        ):
            rows = _per_day(records, field)
            for measure, unit in (("tokens", "tokens"), ("requests", "requests")):
                series = pivot(((day, label or missing, row[measure]) for day, label, row in rows), day_list)
                title = f"{unit.capitalize()} per day, {heading}, last {days} days"
                charts.append(
                    {"title": title, "svg": _svg(day_list, series, title, unit), "empty": not series}
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Usage",
            "opts": self.opts,
            "days": days,
            "day_choices": DAY_CHOICES,
            "since": day_list[0],
            "charts": charts,
            "totals": usage_totals(records)["all"],
            # The records of the same period, as the list's own date filter links them (an aware datetime).
            "records_url": reverse("admin:streaming_usagerecord_changelist")
            + "?"
            + urlencode({"created_at__gte": str(since)}),
        }
        return TemplateResponse(request, "admin/streaming/usage.html", context)


def _days_param(value: str | None) -> int:
    try:
        days = int(value or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return days if days in DAY_CHOICES else DEFAULT_DAYS


def _per_day(records: QuerySet[UsageRecord], field: str) -> list[tuple[date, str, dict[str, int]]]:
    """``(day, label, {"tokens", "requests"})`` per day and value of ``field``: one grouped query."""
    grouped = (
        records.annotate(day=TruncDate("created_at"))
        .values("day", field)
        .annotate(requests=Count("id"), tokens=Coalesce(Sum(TOKENS), 0))
        .order_by()
    )
    return [(row["day"], row[field], row) for row in grouped]


def _svg(days: list[date], series: list[Series], title: str, unit: str) -> str:
    # Safe: the chart module escapes every label it draws; the rest is numbers and fixed markup.
    return mark_safe(stacked_bar_chart(days, series, title=title, unit=unit))  # noqa: S308
