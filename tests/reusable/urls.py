from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("host site")


urlpatterns = [
    path("", home),
    path("admin/", admin.site.urls),
    path("llm/", include("streaming.urls")),
]
