"""Real PostgreSQL and Redis servers for the tests, started by the tests themselves on 127.0.0.1.

Each server runs from Debian's binaries as a child process on a free port with a throwaway data directory,
and is stopped (and its directory removed) at the end. PostgreSQL refuses to run as root, so as root it
runs as the ``postgres`` user the Debian package creates. Nothing here listens beyond loopback.
PostgreSQL loads ``pg_stat_statements`` (shipped in Debian's server package), so the load tests can count
the queries a gateway made (``tests/load/probes.py``).
"""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STARTUP_SECONDS = 30.0


@enum.unique
class RedisDatabase(enum.IntEnum):
    """Who uses which database of the suite's Redis (16 of them). Gateways that share one count failed
    authentications from 127.0.0.1 together, so a test that sends many wrong keys needs one of its own;
    ``unique`` makes two users of one number an import error, not a test that fails when the random order
    puts them in the same minute."""

    TEST_PROCESS = 0  # the test process's cache, flushed between tests (tests/conftest.py)
    E2E = 1  # the end-to-end gateways (tests/e2e/conftest.py)
    WORKERS = 2  # tests/e2e/test_e2e_workers.py
    ADMIN_ROUTES = 3  # tests/e2e/test_e2e_admin_routes.py
    ADMIN_BROWSER = 4  # tests/e2e/test_e2e_admin_browser.py
    HOST_SITE = 5  # tests/reusable: the app in a startproject site
    LOAD = 6  # tests/load and bench/load_figures.py
    LOAD_FLOOD = 7  # tests/load: the gateway a flood of wrong keys locks out
    OBSERVABILITY_FLOOD = 8  # tests/e2e/test_e2e_observability.py: the same
    COUNTERS = 9  # tests/unit/test_counters.py
    CONTRACT = 10  # tests/e2e/test_e2e_openapi_contract.py: every fuzzed case also sent with a wrong key


def redis_database(url: str, database: RedisDatabase) -> str:
    """``url`` (a Redis URL ending in a database number) with ``database`` instead."""
    return f"{url.rsplit('/', 1)[0]}/{int(database)}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {STARTUP_SECONDS} s")


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian keeps them versioned)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def redis_bin() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def chromium_bin() -> Path | None:
    """Debian's Chromium, which the admin's browser tests drive headless (never a browser that
    ``playwright install`` downloads)."""
    found = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
    return Path(found) if found else None


def _as_postgres_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server; yields ``postgres://postgres@127.0.0.1:<port>/postgres`` (trust auth)."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="gateway-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    try:
        subprocess.run(
            _as_postgres_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        log = (root / "postgres.log").open("wb")
        process = subprocess.Popen(
            _as_postgres_user(
                [
                    str(bin_dir / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    "-k",
                    str(root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=300",
                    "-c",
                    "shared_preload_libraries=pg_stat_statements",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        try:
            _wait_for_port(port, process, "postgres")
            _wait_until_accepting(f"postgres://postgres@127.0.0.1:{port}/postgres")
            yield f"postgres://postgres@127.0.0.1:{port}/postgres"
        finally:
            _stop(process, signal.SIGINT)  # "fast" shutdown
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_accepting(url: str) -> None:
    import psycopg

    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A Redis server with no persistence; yields ``redis://127.0.0.1:<port>/0``."""
    binary = redis_bin()
    if binary is None:
        raise RuntimeError("Redis is not installed (Debian: apt-get install redis-server)")
    root = Path(tempfile.mkdtemp(prefix="gateway-redis-"))
    port = free_port()
    log = (root / "redis.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
            "--databases",
            "16",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    try:
        _wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
        shutil.rmtree(root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new empty database on the server of ``server_url``; its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def need(what: str, available: object) -> None:
    """Skip a test whose real component is missing, loudly; under ``GATEWAY_REQUIRE_REAL_SERVICES=1``
    (CI) fail it instead, so CI can never skip a real service silently."""
    import pytest

    if available:
        return
    message = f"{what} is not installed on this machine"
    if os.environ.get("GATEWAY_REQUIRE_REAL_SERVICES") == "1":
        pytest.fail(f"{message}, and GATEWAY_REQUIRE_REAL_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(f"SKIPPED FOR A MISSING SERVICE: {message}")


@contextlib.contextmanager
def shared_services(database: str, redis_db: RedisDatabase) -> Iterator[dict[str, str]]:
    """``DATABASE_URL`` (a fresh ``database``) and ``REDIS_URL`` (database ``redis_db``) for gateway processes
    that must share PostgreSQL and Redis: the suite's servers when it runs on them, else servers of
    their own."""
    with contextlib.ExitStack() as stack:
        server = os.environ.get("DATABASE_URL", "")
        if not server.startswith("postgres"):
            need("PostgreSQL", postgres_bin())
            server = stack.enter_context(postgres_server())
        redis = os.environ.get("REDIS_URL", "")
        if not redis:
            need("Redis", redis_bin())
            redis = stack.enter_context(redis_server())
        maintenance = server.rsplit("/", 1)[0] + "/postgres"
        url = create_database(maintenance, database)
        stack.callback(drop_database, maintenance, database)
        yield {"DATABASE_URL": url, "REDIS_URL": redis_database(redis, redis_db)}
