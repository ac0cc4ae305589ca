"""Settings for the gateway project: environment in, Django settings out; no logic beyond parsing.

Every gateway-specific knob is read through ``streaming.conf`` (documented defaults live there);
this module only copies environment variables into Django settings.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import dj_database_url

from streaming.conf import NUMERIC_SETTINGS

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("GATEWAY_DATA_DIR", BASE_DIR / "var"))


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _secret_key() -> tuple[str, Path | None]:
    """SECRET_KEY from the environment, else one generated on first start and kept beside the database, and
    the file it is kept in (None for the environment's).

    A fresh install then works with DEBUG off; production sets SECRET_KEY explicitly (all workers must share it).
    """
    from_env = os.environ.get("SECRET_KEY") or os.environ.get("DJANGO_SECRET_KEY")
    if from_env:
        return from_env, None
    path = DATA_DIR / "secret_key"
    for _ in range(50):
        try:
            key = path.read_text().strip()
        except FileNotFoundError:
            DATA_DIR.mkdir(parents=True, exist_ok=True)
            key = secrets.token_urlsafe(50)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                continue  # another worker is creating it right now: read theirs
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
            return key, path
        if key:
            return key, path
        time.sleep(0.02)  # created but not yet written by another worker
    raise RuntimeError(f"{path} stays empty: delete it or set SECRET_KEY")


# GENERATED_SECRET_KEY_FILE: where the generated key is kept, None when SECRET_KEY came from the environment;
# while it is set, check --deploy warns (gateway.W001, gateway/checks.py): each host generates its own.
SECRET_KEY, GENERATED_SECRET_KEY_FILE = _secret_key()
DEBUG = _env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", *_env_list("DJANGO_ALLOWED_HOSTS")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_guid",
    "streaming",
    "gateway",  # the project's own system checks (gateway/apps.py)
]

# For the admin (and runserver). Under uvicorn the API paths do not run these: gateway/asgi.py serves
# them with streaming's APIHandler, whose chain is GATEWAY_API_MIDDLEWARE (django-guid's alone).
MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

STATIC_URL = "/static/"
# Admin CSS and JS are served by WhiteNoise straight from the apps' static folders; set STATIC_ROOT to
# run collectstatic (for a front proxy that serves them itself, docs/deploy.md).
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

ROOT_URLCONF = "gateway.urls"
ASGI_APPLICATION = "gateway.asgi.application"
WSGI_APPLICATION = None

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis when REDIS_URL is set (shared by every worker: config version, limits, learned capabilities),
# else this process's memory: streaming.W004 warns under WEB_CONCURRENCY > 1 and under check --deploy.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": os.environ["REDIS_URL"],
        # A Redis that stops answering fails the admin's saves after 2 s instead of holding them forever.
        "OPTIONS": {"socket_connect_timeout": 2.0, "socket_timeout": 2.0},
    }
    if os.environ.get("REDIS_URL")
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# The upstream (OpenAI Responses API or a compatible server).
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY") or None
OPENAI_BASE_URL = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"

# Gateway knobs (documented with their defaults in streaming/conf.py); unset ones keep those defaults.
if os.environ.get("GATEWAY_MODEL_MAP"):
    GATEWAY_MODEL_MAP = os.environ["GATEWAY_MODEL_MAP"]
if os.environ.get("GATEWAY_MODELS"):
    GATEWAY_MODELS = _env_list("GATEWAY_MODELS")
if os.environ.get("GATEWAY_COUNT_TOKENS"):
    GATEWAY_COUNT_TOKENS = os.environ["GATEWAY_COUNT_TOKENS"]
if os.environ.get("GATEWAY_METRICS_TOKEN"):
    GATEWAY_METRICS_TOKEN = os.environ["GATEWAY_METRICS_TOKEN"]
if os.environ.get("GATEWAY_LOG_FORMAT"):
    GATEWAY_LOG_FORMAT = os.environ["GATEWAY_LOG_FORMAT"]
if os.environ.get("GATEWAY_ENCRYPTION_KEYS"):
    GATEWAY_ENCRYPTION_KEYS = os.environ["GATEWAY_ENCRYPTION_KEYS"]
for _name in ("GATEWAY_REFUSE_UNROUTED_MODELS", "GATEWAY_RECORD_USAGE"):
    if os.environ.get(_name):
        globals()[_name] = _env_bool(_name)
for _name, _type in NUMERIC_SETTINGS.items():
    if os.environ.get(_name):
        globals()[_name] = _type(os.environ[_name])

DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Correlation-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"correlation_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"},
        "json": {"()": "streaming.observability.request_log.JSONFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if os.environ.get("GATEWAY_LOG_FORMAT") == "json" else "plain",
            "filters": ["correlation_id"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # django-guid logs every generated ID at INFO; that is per-request noise.
        "django_guid": {"level": "WARNING"},
        # httpx2 logs every upstream request at INFO: per-request noise on the hot path.
        "httpx2": {"level": "WARNING"},
    },
}
