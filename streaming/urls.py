"""The app's URLs: relative paths only, so a host site can mount them under any prefix."""

from __future__ import annotations

from django.urls import path

from streaming import views

app_name = "streaming"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
]
