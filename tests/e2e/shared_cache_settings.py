"""The gateway's settings with one cache for every worker on this machine (files in the data directory).

The configuration version stamp lives in Django's cache, so only a shared cache lets a change saved on one
worker reach the others within ``GATEWAY_CONFIG_REFRESH_SECONDS``; production shares Redis, this stands in
for it in the tests that run several gateway processes.
"""

from __future__ import annotations

from gateway.settings import *  # noqa: F403
from gateway.settings import DATA_DIR

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
    }
}
