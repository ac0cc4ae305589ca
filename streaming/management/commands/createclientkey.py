"""``manage.py createclientkey NAME``: create a client key and print it once (alone on the last line)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from streaming.conf import gateway_settings
from streaming.control.client_keys import display_prefix, generate_client_key, hash_client_key
from streaming.models import ClientKey


class Command(BaseCommand):
    help = (
        "Create a client API key. The key is printed once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A label for the key (who or what uses it).")

    def handle(self, *args: Any, **options: Any) -> None:
        key = generate_client_key()
        ClientKey.objects.create(
            name=options["name"],
            key_hash=hash_client_key(key, gateway_settings.SIGNING_KEY),
            prefix=display_prefix(key),
        )
        self.stdout.write(f"Created client key {options['name']!r}. Store it now; it cannot be shown again:")
        self.stdout.write(key)
