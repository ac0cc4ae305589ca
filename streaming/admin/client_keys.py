"""The client keys' admin: adding a key shows it once, on the page the save answers with, and never again.

Modelled on ``django.contrib.auth.admin.UserAdmin`` (``add_fieldsets``, ``get_fieldsets``,
``response_add``). The key is generated when the add form is saved, only its hash and display prefix are
stored, and ``response_add`` renders it into the POST's own answer (``Cache-Control: no-store``) instead of
redirecting: so it is in no URL, no message (the messages framework keeps them in a cookie or the
session), no log line and no later page.
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from streaming.conf import gateway_settings
from streaming.control.client_keys import display_prefix, generate_client_key, hash_client_key
from streaming.models import ClientKey

LIMITS = ("allowed_models", "rpm_limit", "max_concurrent_streams")


class ShownOnce(str):
    """The new key as the template gets it: renders as itself, but its ``repr`` hides it. (Django's template
    engine logs a failed variable lookup at DEBUG with the repr of the whole context.)"""

    def __repr__(self) -> str:
        return "'<the new client key>'"


# The key generated while saving an add form, held only until that request's response_add shows it.
_new_keys: WeakKeyDictionary[HttpRequest, str] = WeakKeyDictionary()


@admin.register(ClientKey)
class ClientKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "name",
        "shown_prefix",
        "is_active",
        "expires_at",
        "allowed_models",
        "rpm_limit",
        "max_concurrent_streams",
        "last_used_at",
        "created_at",
    )
    list_filter = ("is_active", "expires_at", "last_used_at")
    search_fields = ("name", "prefix")
    readonly_fields = ("shown_prefix", "created_at", "last_used_at")
    actions = ("deactivate",)
    fieldsets = (
        (None, {"fields": ("name", "shown_prefix", "is_active", "expires_at")}),
        ("Limits", {"fields": LIMITS}),
        ("Activity", {"fields": ("created_at", "last_used_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "fields": ("name", "is_active", "expires_at"),
                "description": "The key is generated when you save, and shown once on the next page.",
            },
        ),
        ("Limits", {"fields": LIMITS}),
    )

    def get_fieldsets(self, request: HttpRequest, obj: ClientKey | None = None) -> Any:
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    @admin.display(description="prefix", ordering="prefix")
    def shown_prefix(self, obj: ClientKey) -> str:
        return f"{obj.prefix}…" if obj.prefix else ""

    def save_model(self, request: HttpRequest, obj: ClientKey, form: Any, change: bool) -> None:
        if not change:
            key = generate_client_key()
            obj.key_hash = hash_client_key(key, gateway_settings.SIGNING_KEY)
            obj.prefix = display_prefix(key)
            _new_keys[request] = key
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: ClientKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        key = _new_keys.pop(request, None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        opts = self.opts
        context = {
            **self.admin_site.each_context(request),
            "title": f"Client key {obj.name} created",
            "opts": opts,
            "client_key": obj,
            "key": ShownOnce(key),
            "change_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]),
            "add_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_add"),
            "changelist_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }
        response = TemplateResponse(request, "admin/streaming/clientkey/created.html", context)
        add_never_cache_headers(response)  # no-store: no browser or proxy keeps the page with the key
        return response

    @admin.action(description="Deactivate the selected keys", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet[ClientKey]) -> None:
        keys = list(queryset.filter(is_active=True))
        for key in keys:  # saved one by one: each save tells the workers (a bulk update would not)
            key.is_active = False
            key.save(update_fields=["is_active"])
            self.log_change(request, key, "Deactivated.")
        self.message_user(request, f"Deactivated {len(keys)} key(s).", messages.SUCCESS)
