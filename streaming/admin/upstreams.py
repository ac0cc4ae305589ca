"""The upstreams' admin: the key is write-only, a new default replaces the old one, and each upstream can be
tested and shows (and forgets) what it taught the gateway.

The stored key never goes back to the browser: the form's ``api_key`` field starts empty whatever is
stored ("leave blank to keep"), the page shows at most ``api_key_hint`` (the last four characters), and
``api_key`` is a sensitive POST parameter, so even a crash report with DEBUG on masks it.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from streaming.admin.probe import PROBE_PATH, probe_all
from streaming.conf import gateway_settings
from streaming.control import capabilities
from streaming.control.counters import shared_cache_unreachable
from streaming.control.registry import upstream_config
from streaming.models import ModelRoute, UnreadableSecret, Upstream
from streaming.transport import SETTINGS_UPSTREAM_NAME

sensitive_key = method_decorator(sensitive_post_parameters("api_key"))
WRITE_ONLY = ("api_key", "clear_api_key")


class UpstreamForm(forms.ModelForm):  # type: ignore[type-arg]
    api_key = forms.CharField(
        label="API key",
        required=False,
        strip=True,
        # new-password: browsers must not fill in the operator's saved admin password here.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Write-only: stored encrypted, never shown again. Leave blank to keep the stored key.",
    )
    clear_api_key = forms.BooleanField(
        label="Remove the stored key", required=False, help_text="For an upstream that needs no key."
    )

    class Meta:
        model = Upstream
        fields = "__all__"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The stored key must not reach a widget, a hidden "initial" input or a changed-data comparison.
        self.initial["api_key"] = ""

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if name == SETTINGS_UPSTREAM_NAME:
            raise ValidationError(
                f"{SETTINGS_UPSTREAM_NAME!r} is the name of the upstream the settings describe "
                "(OPENAI_API_KEY, OPENAI_BASE_URL); pick another."
            )
        return name

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("clear_api_key"):
            if cleaned.get("api_key"):
                self.add_error("api_key", "Enter a new key or remove the stored one, not both.")
            cleaned["api_key"] = ""
        elif not cleaned.get("api_key"):
            cleaned["api_key"] = self.instance.api_key  # kept as stored (even one no key decrypts)
        return cleaned

    def _get_validation_exclusions(self) -> set[str]:
        # At most one default: the admin's save unsets the old default in the same transaction, so the
        # form must not refuse a new default for the constraint the save is about to keep. (Django's own
        # hook for which fields the model validation skips; django-stubs does not declare it.)
        exclusions: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]
        return exclusions | {"is_default"}


def unset_other_defaults(upstream: Upstream) -> None:
    """Call inside the transaction that saves ``upstream`` as the default: at most one default, always."""
    Upstream.objects.filter(is_default=True).exclude(pk=upstream.pk).update(is_default=False)


def set_default(upstream: Upstream) -> None:
    """``upstream`` becomes the one default; the old default is unset in the same transaction."""
    with transaction.atomic():
        unset_other_defaults(upstream)
        upstream.is_default = True
        upstream.save(update_fields=["is_default", "updated_at"])


_CANNOT_FORGET = "Nothing was forgotten: the shared cache (Redis) is unreachable. Try again once it is back."


def _learned_html(name: str) -> SafeString:
    facts = capabilities.learned_if_reachable(name)
    if facts is None:
        return format_html("{}", "Unknown: the shared cache (Redis) is unreachable.")
    if not facts:
        return format_html("{}", "Nothing: every parameter it was sent so far, it accepted.")
    rows = format_html_join(
        "",
        '<li style="list-style: none"><code>{}</code>: {}</li>',
        (
            (
                "every model" if model == capabilities.UPSTREAM_WIDE else model,
                ", ".join(sorted(params)),
            )
            for model, params in sorted(facts.items())
        ),
    )
    return format_html(
        '<ul class="learned" style="margin: 0; padding: 0">{}</ul><div class="help">Not supported, so the gateway leaves it out of '
        "requests. Forget it (the action on the list) after the upstream changed.</div>",
        rows,
    )


@admin.register(Upstream)
class UpstreamAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = UpstreamForm
    list_display = (
        "name",
        "base_url",
        "enabled",
        "is_default",
        "stored_key",
        "learned_summary",
    )
    list_filter = ("enabled", "is_default", "auth_scheme")
    search_fields = ("name", "base_url")
    readonly_fields = ("stored_key", "learned", "created_at", "updated_at")
    actions = ("test_connection", "make_default", "forget_learned")
    change_list_template = "admin/streaming/upstream/change_list.html"
    fieldsets = (
        (None, {"fields": ("name", "base_url", "auth_scheme", "api_key", "clear_api_key", "stored_key")}),
        ("Routing", {"fields": ("enabled", "is_default")}),
        ("Requests", {"fields": ("extra_headers", "connect_timeout", "read_timeout")}),
        ("What this upstream taught the gateway", {"fields": ("learned",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "base_url", "auth_scheme", "api_key")}),
        ("Routing", {"fields": ("enabled", "is_default")}),
        ("Requests", {"fields": ("extra_headers", "connect_timeout", "read_timeout")}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: Upstream | None = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        # A view-only page shows every field's value: the key (and its form-only companion) must not be one.
        return [
            (title, {**options, "fields": [name for name in options["fields"] if name not in WRITE_ONLY]})
            for title, options in fieldsets
        ]

    @sensitive_key
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    def save_model(self, request: HttpRequest, obj: Upstream, form: Any, change: bool) -> None:
        with transaction.atomic():
            if obj.is_default:
                unset_other_defaults(obj)
            super().save_model(request, obj, form, change)

    @admin.display(description="Stored key")
    def stored_key(self, obj: Upstream) -> str:
        if isinstance(obj.api_key, UnreadableSecret):
            return "cannot be decrypted with the configured keys: enter it again"
        if not obj.api_key:
            return "none"
        return obj.api_key_hint or "set"

    @admin.display(description="Learned")
    def learned(self, obj: Upstream) -> SafeString:
        return _learned_html(obj.name)

    @admin.display(description="Learned")
    def learned_summary(self, obj: Upstream) -> str:
        facts = capabilities.learned_if_reachable(obj.name)
        if facts is None:
            return "unknown (the shared cache is unreachable)"
        return ", ".join(sorted({param for params in facts.values() for param in params})) or "—"

    @admin.action(description=f"Test connection (GET {{base_url}}{PROBE_PATH})", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Upstream]) -> None:
        upstreams = list(queryset)
        targets = [(upstream_config(row), _routed_models(row)) for row in upstreams]
        for result in async_to_sync(probe_all)(targets):
            self.message_user(request, result.message, messages.SUCCESS if result.ok else messages.ERROR)

    @admin.action(description="Make the selected upstream the default", permissions=["change"])
    def make_default(self, request: HttpRequest, queryset: QuerySet[Upstream]) -> None:
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(
                request, "Select exactly one upstream to make it the default.", messages.WARNING
            )
            return
        upstream = selected[0]
        if not upstream.enabled:
            self.message_user(
                request,
                f"{upstream.name} is disabled: enable it first (a disabled default sends traffic to the "
                "settings' upstream).",
                messages.WARNING,
            )
            return
        set_default(upstream)
        self.log_change(request, upstream, "Made the default upstream.")
        self.message_user(request, f"{upstream.name} is now the default upstream.", messages.SUCCESS)

    @admin.action(description="Forget what the selected upstreams taught", permissions=["change"])
    def forget_learned(self, request: HttpRequest, queryset: QuerySet[Upstream]) -> None:
        names = [row.name for row in queryset]
        try:
            for name in names:
                capabilities.forget(name)
        except Exception as exc:
            shared_cache_unreachable(exc)
            self.message_user(request, _CANNOT_FORGET, messages.ERROR)
            return
        self.message_user(
            request, f"Forgot what {', '.join(names)} taught; the next requests ask again.", messages.SUCCESS
        )

    def get_urls(self) -> list[URLPattern]:
        forget_settings = self.admin_site.admin_view(require_POST(self.forget_settings_view))
        return [
            path("settings/forget/", forget_settings, name="streaming_upstream_forget_settings"),
            *super().get_urls(),
        ]

    def forget_settings_view(self, request: HttpRequest) -> HttpResponse:
        """Forget what the settings' upstream (named ``settings``) taught; it has no row to act on."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            capabilities.forget(SETTINGS_UPSTREAM_NAME)
        except Exception as exc:
            shared_cache_unreachable(exc)
            self.message_user(request, _CANNOT_FORGET, messages.ERROR)
        else:
            self.message_user(request, "Forgot what the settings' upstream taught.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:streaming_upstream_changelist"))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            response.context_data["settings_upstream"] = {
                "base_url": gateway_settings.OPENAI_BASE_URL,
                "has_key": bool(gateway_settings.OPENAI_API_KEY),
                "is_default": not Upstream.objects.filter(is_default=True, enabled=True).exists(),
                "learned": _learned_html(SETTINGS_UPSTREAM_NAME),
                "can_forget": self.has_change_permission(request)
                and bool(capabilities.learned_if_reachable(SETTINGS_UPSTREAM_NAME)),
            }
        return response


def _routed_models(upstream: Upstream) -> set[str]:
    """The upstream model names enabled routes send to ``upstream`` (a blank upstream is the default)."""
    to_it = Q(upstream=upstream) | Q(upstream__isnull=True) if upstream.is_default else Q(upstream=upstream)
    return set(
        ModelRoute.objects.filter(to_it, enabled=True)
        .exclude(upstream_model="")
        .values_list("upstream_model", flat=True)
    )
