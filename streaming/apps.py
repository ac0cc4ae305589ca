from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


def _configuration_changed(sender: Any, using: str | None = None, **kwargs: Any) -> None:
    """Tell every worker now, and again once the change is committed (the admin saves inside a transaction):
    a worker reloading in between reads the old rows under the new stamp and would keep them until
    ``GATEWAY_CONFIG_MAX_AGE_SECONDS``. Outside a transaction the second bump is skipped."""
    from django.db import transaction

    from streaming.control.version import bump_version

    bump_version()
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(bump_version, using=using)


class StreamingConfig(AppConfig):
    name = "streaming"
    verbose_name = "Anthropic gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from streaming import checks  # noqa: F401  (registers the system checks)
        from streaming.control import usage
        from streaming.observability.metrics import record_metrics
        from streaming.observability.request_log import log_request
        from streaming.outcome import add_sink

        for model in ("Upstream", "ModelRoute", "ClientKey"):
            sender = self.get_model(model)
            post_save.connect(_configuration_changed, sender=sender, dispatch_uid=f"streaming-{model}-saved")
            post_delete.connect(
                _configuration_changed, sender=sender, dispatch_uid=f"streaming-{model}-deleted"
            )
        add_sink(usage.record)
        add_sink(log_request)
        add_sink(record_metrics)
