"""The project as an installed app, for one reason: registering its own system checks in ``ready()``."""

from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    """No models, no URLs: only what ``gateway/settings.py`` alone knows needs checking (``gateway/checks.py``).

    The checks belong here rather than to ``streaming``: a host site that installs the app makes its own
    ``SECRET_KEY``, and only this project generates one.
    """

    name = "gateway"
    verbose_name = "Gateway project"

    def ready(self) -> None:
        from gateway import checks  # noqa: F401  (registers the system checks)
