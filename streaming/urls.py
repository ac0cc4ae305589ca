"""The app's URLs: relative paths only, so a host site can mount them under any prefix."""

from __future__ import annotations

from django.urls import path

from streaming.api import views

app_name = "streaming"

urlpatterns = [
    path("v1/messages", views.messages, name="messages"),
    path("v1/messages/stream", views.messages_stream, name="messages-stream"),
    path("v1/messages/count_tokens", views.count_tokens, name="count-tokens"),
    path("v1/models", views.models_list, name="models"),
    path("v1/models/<path:model_id>", views.model_detail, name="model"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_page, name="metrics"),
]
