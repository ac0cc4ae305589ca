"""The gateway's database: upstreams, model routes, client keys and usage records.

Field names are a contract (operators script the admin, ``docs/admin.md`` names them). Saving or deleting
an upstream, route or key bumps the configuration version (``streaming.control.registry``), which every
worker notices within ``GATEWAY_CONFIG_REFRESH_SECONDS``.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models

from streaming.control.encryption import DecryptionError, decrypt, encrypt

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def validate_base_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(
            "Enter the upstream's API root as an http(s) URL, e.g. https://api.openai.com/v1."
        )


def validate_headers(value: Any) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(name, str) and name and isinstance(text, str) for name, text in value.items()
    ):
        raise ValidationError(
            'Enter a JSON object of header names to string values, e.g. {"OpenAI-Project": "proj_1"}.'
        )


class UnreadableSecret(str):
    """A stored secret no configured key decrypts: empty to Python, its token kept so saving the row
    unchanged does not destroy it (the old key may come back)."""

    token: str

    def __new__(cls, token: str) -> UnreadableSecret:
        secret = super().__new__(cls, "")
        secret.token = token
        return secret


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted at rest with Fernet (``streaming.control.encryption``): Python sees plain text, the
    database only ever holds the token. Empty stays empty."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        try:
            return decrypt(value)
        except DecryptionError:
            return UnreadableSecret(value)

    def get_prep_value(self, value: Any) -> Any:
        if isinstance(value, UnreadableSecret):
            return value.token
        value = super().get_prep_value(value)
        return encrypt(value) if value else value


class Upstream(models.Model):
    """A server that speaks the OpenAI Responses API."""

    class AuthScheme(models.TextChoices):
        BEARER = "bearer", "Authorization: Bearer <key> (OpenAI and most servers)"
        API_KEY = "api-key", "api-key: <key> (Azure OpenAI)"

    name = models.CharField(max_length=100, unique=True)
    base_url = models.CharField(
        max_length=500,
        validators=[validate_base_url],
        help_text="The API root: the gateway POSTs to {base_url}/responses.",
    )
    api_key = EncryptedTextField(blank=True, help_text="Stored encrypted; never shown again after saving.")
    api_key_hint = models.CharField(max_length=8, blank=True, editable=False)
    auth_scheme = models.CharField(max_length=16, choices=AuthScheme.choices, default=AuthScheme.BEARER)
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(
        default=False, help_text="Requests no route sends elsewhere go here (at most one upstream)."
    )
    extra_headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_headers],
        help_text="Sent with every request (not for secrets: they are stored in plain text).",
    )
    connect_timeout = models.FloatField(null=True, blank=True, help_text="Seconds; blank: the setting.")
    read_timeout = models.FloatField(null=True, blank=True, help_text="Seconds; blank: the setting.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="streaming_one_default_upstream",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.api_key_hint = f"…{self.api_key[-4:]}" if len(self.api_key or "") >= 12 else ""
        super().save(*args, **kwargs)


class ModelRoute(models.Model):
    """Client model names matching ``pattern`` go to ``upstream`` as ``upstream_model``."""

    class Reasoning(models.TextChoices):
        AUTO = "auto", "auto (the built-in profile, then what the upstream taught)"
        ON = "on", "on (a reasoning model)"
        OFF = "off", "off (not a reasoning model)"

    pattern = models.CharField(
        max_length=200, help_text="A glob over the client's model name, e.g. claude-*haiku* (case-sensitive)."
    )
    upstream = models.ForeignKey(
        Upstream,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="routes",
        help_text="Blank: the default upstream.",
    )
    upstream_model = models.CharField(
        max_length=200, blank=True, help_text="The model name upstream; blank: the client's name unchanged."
    )
    priority = models.IntegerField(default=100, help_text="Routes are tried lowest number first.")
    enabled = models.BooleanField(default=True)
    reasoning = models.CharField(max_length=4, choices=Reasoning.choices, default=Reasoning.AUTO)
    max_output_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="The upstream model's output cap; blank: the built-in profile."
    )
    default_effort = models.CharField(
        max_length=8,
        blank=True,
        choices=[(effort, effort) for effort in REASONING_EFFORTS],
        help_text="Reasoning effort when the client asks for no thinking; blank: none.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return f"{self.pattern} → {self.upstream_model or '(same name)'}"


class ClientKey(models.Model):
    """A key a client authenticates with; stored hashed (``streaming.control.client_keys``), shown once."""

    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, to recognise the key."
    )
    allowed_models = models.CharField(
        max_length=1000,
        blank=True,
        help_text="Comma-separated globs over client model names, e.g. claude-*haiku*; empty: every model.",
    )
    rpm_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per minute; blank: unlimited."
    )
    max_concurrent_streams = models.PositiveIntegerField(
        null=True, blank=True, help_text="Streams open at once; blank: unlimited."
    )
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def model_globs(self) -> tuple[str, ...]:
        return tuple(glob.strip() for glob in self.allowed_models.split(",") if glob.strip())

    def allows(self, model: str) -> bool:
        globs = self.model_globs()
        return not globs or any(fnmatchcase(model, glob) for glob in globs)


class UsageRecord(models.Model):
    """One API request: who, which models, what it cost, how it went (written in batches, off the hot path)."""

    created_at = models.DateTimeField(db_index=True)
    client_key = models.ForeignKey(
        ClientKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage"
    )
    key_name = models.CharField(max_length=100, blank=True)
    endpoint = models.CharField(max_length=32)
    stream = models.BooleanField(default=False)
    client_model = models.CharField(max_length=200, blank=True)
    upstream = models.CharField(max_length=100, blank=True)
    upstream_model = models.CharField(max_length=200, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    cache_read_tokens = models.PositiveIntegerField(default=0)
    cache_creation_tokens = models.PositiveIntegerField(default=0)
    web_search_requests = models.PositiveIntegerField(
        default=0
    )  # searches the upstream ran (billed per call)
    stop_reason = models.CharField(max_length=32, blank=True)
    status = models.PositiveSmallIntegerField(default=0)
    error_type = models.CharField(max_length=64, blank=True)
    cause = models.CharField(max_length=64, blank=True)
    ttfb_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["client_key", "created_at"], name="streaming_usage_key_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.key_name or '-'} {self.client_model} {self.status}"
