"""``manage.py rotate_encryption_keys``: re-encrypt every stored upstream key under the first key of
``GATEWAY_ENCRYPTION_KEYS``.

Rotation: generate a key, put it first in ``GATEWAY_ENCRYPTION_KEYS`` (keep the old ones after it) on
every worker, run this command once, then remove the old keys. Reading decrypts with any configured key
and saving encrypts with the first, so re-saving each key is the whole rotation.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from streaming.models import UnreadableSecret, Upstream


class Command(BaseCommand):
    help = "Re-encrypt every stored upstream key under the first key of GATEWAY_ENCRYPTION_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            upstreams = list(Upstream.objects.select_for_update().exclude(api_key=""))
            unreadable = [row.name for row in upstreams if isinstance(row.api_key, UnreadableSecret)]
            if unreadable:
                raise CommandError(
                    f"No configured key decrypts the stored key of: {', '.join(unreadable)}. Put the key they "
                    "were encrypted with back into GATEWAY_ENCRYPTION_KEYS (after the new one), or enter "
                    "those upstream keys again in the admin."
                )
            for row in upstreams:
                row.save(update_fields=["api_key", "api_key_hint", "updated_at"])
        self.stdout.write(f"Re-encrypted {len(upstreams)} upstream key(s) under the first encryption key.")
