"""Database models of the gateway."""

from __future__ import annotations

from django.db import models


class ClientKey(models.Model):
    """A key a client authenticates with; stored hashed (streaming.control.client_keys), shown once at creation."""

    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, to recognise the key."
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
