"""The model routes' admin: which client models go where, editable in the list (priority, enabled).

Every save bumps the configuration version (``streaming.apps``), so the next request of this worker, and
of every worker sharing the cache within ``GATEWAY_CONFIG_REFRESH_SECONDS``, routes by the new rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import ForeignKey
from django.forms import ModelChoiceField
from django.http import HttpRequest

from streaming.models import ModelRoute

DEFAULT_UPSTREAM_LABEL = "the default upstream"


@admin.register(ModelRoute)
class ModelRouteAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = (
        "pattern",
        "upstream_name",
        "upstream_model",
        "priority",
        "enabled",
        "profile",
    )
    list_editable = ("priority", "enabled")
    list_filter = ("enabled", "upstream", "reasoning")
    list_select_related = ("upstream",)
    search_fields = ("pattern", "upstream_model")
    fieldsets = (
        (None, {"fields": ("pattern", "upstream", "upstream_model", "priority", "enabled")}),
        (
            "Model profile overrides",
            {
                "fields": ("reasoning", "max_output_tokens", "default_effort"),
                "description": "Blank or auto: the built-in profile for the upstream model, then what the "
                "upstream taught. An explicit value here wins over both.",
            },
        ),
    )

    @admin.display(description="upstream", ordering="upstream__name")
    def upstream_name(self, obj: ModelRoute) -> str:
        return obj.upstream.name if obj.upstream is not None else f"({DEFAULT_UPSTREAM_LABEL})"

    @admin.display(description="profile overrides")
    def profile(self, obj: ModelRoute) -> str:
        overrides = [
            f"reasoning {obj.reasoning}" if obj.reasoning != ModelRoute.Reasoning.AUTO else "",
            f"max output {obj.max_output_tokens:,}" if obj.max_output_tokens else "",
            f"effort {obj.default_effort}" if obj.default_effort else "",
        ]
        return ", ".join(text for text in overrides if text) or "—"

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "upstream":
            kwargs["empty_label"] = f"— {DEFAULT_UPSTREAM_LABEL} —"
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
