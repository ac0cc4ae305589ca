from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("streaming.urls")),
]

# Errors outside the API views (unknown paths, bad Host headers, crashes) also answer in Anthropic's envelope.
handler400 = "streaming.api.decorators.bad_request_handler"
handler404 = "streaming.api.decorators.not_found_handler"
handler500 = "streaming.api.decorators.server_error_handler"
