"""Real services the tests start or drive themselves: Chromium today; PostgreSQL, Redis and nginx later.

On a developer's machine a missing one skips its tests, loudly (the reason names what did not run and how
to install it). With ``GATEWAY_REQUIRE_REAL_SERVICES=1`` (``.ci/run`` sets it, after installing them) a
missing one fails instead: CI can never turn green by skipping what it was meant to run.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE_ENV = "GATEWAY_REQUIRE_REAL_SERVICES"
CHROMIUM = "/usr/bin/chromium"


def required() -> bool:
    """Whether a missing service is a failure (CI) rather than a skip."""
    return os.environ.get(REQUIRE_ENV) == "1"


def missing(service: str, install: str) -> NoReturn:
    """Skip (loudly), or fail when services are required."""
    if required():
        pytest.fail(f"{service} is missing but {REQUIRE_ENV}=1 requires it: {install}", pytrace=False)
    pytest.skip(
        f"{service.upper()} IS MISSING, SO THESE TESTS DID NOT RUN: {install} "
        f"(set {REQUIRE_ENV}=1 to make this a failure)"
    )


def executable(path: str, service: str, install: str) -> str:
    """``path`` if it is an executable, else the same name on PATH, else ``missing``."""
    if os.access(path, os.X_OK):
        return path
    return shutil.which(os.path.basename(path)) or missing(service, install)


def chromium() -> str:
    """Debian's headless-capable Chromium (never a browser downloaded by ``playwright install``)."""
    return executable(CHROMIUM, "Chromium", "apt-get install chromium (.ci/run installs it)")
