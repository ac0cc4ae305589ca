from __future__ import annotations

from django.urls import include, path

from streaming import views

urlpatterns = [
    path("healthz", views.healthz),
    path("", include("streaming.urls")),
]
