from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

# The admin index links the gateway's usage page (a view, not a model: the app list cannot show it).
admin.site.index_template = "admin/streaming/site_index.html"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("streaming.urls")),
]

# Errors outside the API views (unknown paths, bad Host headers, crashes) also answer in Anthropic's envelope.
handler400 = "streaming.api.error_pages.bad_request_handler"
handler404 = "streaming.api.error_pages.not_found_handler"
handler500 = "streaming.api.error_pages.server_error_handler"
