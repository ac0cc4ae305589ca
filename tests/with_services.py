"""Run a command (the test suite) against real PostgreSQL and Redis: ``python -m tests.with_services CMD...``.

``bin/test`` runs pytest through this. It starts PostgreSQL and Redis (``tests/servers.py``) when their
Debian packages are installed, points ``DATABASE_URL``/``REDIS_URL`` at them, runs the command, and stops
them. Without them it says loudly that the run is on SQLite and local memory, unless
``GATEWAY_REQUIRE_REAL_SERVICES=1`` (``.ci/run`` sets it), which makes that a failure.
``GATEWAY_TEST_DATABASES=both`` (``.ci/run`` sets it too) runs the command twice: on PostgreSQL + Redis,
then on SQLite + local memory.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from tests.servers import postgres_bin, postgres_server, redis_bin, redis_server

_SERVICE_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def banner(text: str) -> None:
    line = "=" * min(100, max(60, len(text) + 4))
    sys.stderr.write(f"\n{line}\n  {text}\n{line}\n\n")
    sys.stderr.flush()


def run(command: list[str], env: dict[str, str]) -> int:
    return subprocess.call(command, env=env)


def on_sqlite(command: list[str]) -> int:
    env = {name: value for name, value in os.environ.items() if name not in _SERVICE_VARIABLES}
    banner("Running on SQLite and the local-memory cache.")
    return run(command, env)


def on_real_services(command: list[str]) -> int:
    with contextlib.ExitStack() as stack:
        database = stack.enter_context(postgres_server())
        cache = stack.enter_context(redis_server())
        env = {**os.environ, "DATABASE_URL": database.rsplit("/", 1)[0] + "/gateway", "REDIS_URL": cache}
        banner(f"Running on PostgreSQL ({database.rsplit('/', 1)[0]}) and Redis ({cache}).")
        return run(command, env)


def main(command: list[str]) -> int:
    required = os.environ.get("GATEWAY_REQUIRE_REAL_SERVICES") == "1"
    mode = os.environ.get("GATEWAY_TEST_DATABASES", "real")
    if mode == "sqlite":
        return on_sqlite(command)
    missing = [
        name for name, found in (("postgresql", postgres_bin()), ("redis-server", redis_bin())) if not found
    ]
    if missing:
        message = (
            f"PostgreSQL and Redis are needed for the full run, but {', '.join(missing)} is not installed "
            "(Debian: apt-get install postgresql redis-server)."
        )
        if required:
            banner(f"FAILED: {message} GATEWAY_REQUIRE_REAL_SERVICES=1 forbids falling back.")
            return 2
        banner(f"WARNING: {message} Falling back to SQLite and local memory ONLY.")
        return on_sqlite(command)
    status = on_real_services(command)
    if mode == "both":
        status = max(status, on_sqlite(command))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
