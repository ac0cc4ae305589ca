"""``manage.py createclientkey NAME``: create a client key and print it once (alone on the last line).

Takes the same limits the admin's form does: ``--allowed-models``, ``--rpm-limit``,
``--max-concurrent-streams`` and ``--expires-in-days``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from streaming.conf import gateway_settings
from streaming.control.client_keys import display_prefix, generate_client_key, hash_client_key
from streaming.models import ClientKey


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = (
        "Create a client API key. The key is printed once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A label for the key (who or what uses it).")
        parser.add_argument(
            "--allowed-models",
            default="",
            help="Comma-separated globs over client model names (default: every model).",
        )
        parser.add_argument("--rpm-limit", type=_positive, help="Requests per minute (default: unlimited).")
        parser.add_argument(
            "--max-concurrent-streams", type=_positive, help="Streams open at once (default: unlimited)."
        )
        parser.add_argument("--expires-in-days", type=_positive, help="Expire after this many days.")

    def handle(self, *args: Any, **options: Any) -> None:
        key = generate_client_key()
        days = options["expires_in_days"]
        ClientKey.objects.create(
            name=options["name"],
            key_hash=hash_client_key(key, gateway_settings.SIGNING_KEY),
            prefix=display_prefix(key),
            allowed_models=options["allowed_models"],
            rpm_limit=options["rpm_limit"],
            max_concurrent_streams=options["max_concurrent_streams"],
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
        self.stdout.write(f"Created client key {options['name']!r}. Store it now; it cannot be shown again:")
        self.stdout.write(key)
