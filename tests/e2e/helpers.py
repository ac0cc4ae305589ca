"""End-to-end plumbing: run the real gateway under uvicorn in a subprocess, read its SSE, wait for things.

The gateway runs exactly as in production (``uvicorn gateway.asgi:application``, DEBUG off, SQLite and a
generated secret key in a temporary data directory); tests talk to it over loopback only.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.fakes.upstream import (
    FIXTURES_DIR,
    Behaviour,
    RecordedRequest,
    final_response,
    json_response,
    raw_stream,
    replay,
    sse_events,
    sse_frame,
    text_response_events,
)
from tests.servers import RedisDatabase

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = REPO_ROOT / "tests" / "node"

# Variables of the test runner's environment that would change how the gateway under test behaves.
_GATEWAY_ENV_PREFIXES = ("GATEWAY_", "OPENAI_", "DJANGO_", "ANTHROPIC_")
_GATEWAY_ENV_NAMES = {"SECRET_KEY", "DATABASE_URL", "DATABASE_CONN_MAX_AGE", "LOG_LEVEL", "REDIS_URL"}

STARTUP_TIMEOUT = 30.0
SHUTDOWN_TIMEOUT = 10.0


@dataclass
class Gateway:
    """A running gateway process and what tests need to talk to it."""

    name: str
    base_url: str
    client_key: str
    upstream_key: str
    data_dir: Path
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        """What the gateway wrote to stderr since ``offset`` (a ``log_size()`` taken earlier)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully, lifespan closes the upstream pool), then SIGKILL."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=SHUTDOWN_TIMEOUT)


def gateway_env(
    *, data_dir: Path, upstream_url: str, upstream_key: str | None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The gateway's environment: the runner's, minus anything that configures a gateway, plus ours.

    ``SECRET_KEY`` stays unset so the generated-key path (a key file in the data dir) is exercised.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_GATEWAY_ENV_PREFIXES) and name not in _GATEWAY_ENV_NAMES
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "gateway.settings",
            "DJANGO_DEBUG": "0",
            "GATEWAY_DATA_DIR": str(data_dir),
            "OPENAI_BASE_URL": upstream_url,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    if upstream_key is not None:
        env["OPENAI_API_KEY"] = upstream_key
    env.update(extra or {})
    return env


def services_env(database: str, redis_db: RedisDatabase) -> dict[str, str]:
    """When the suite runs on PostgreSQL and Redis (``tests/with_services.py``), gateway processes use them
    too: ``database`` (created now, empty) on that server and Redis database ``redis_db`` (``tests/servers.py``
    ``RedisDatabase``: who uses which). Empty on SQLite and local memory."""
    from tests.servers import create_database, redis_database

    env: dict[str, str] = {}
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        env["DATABASE_URL"] = create_database(url.rsplit("/", 1)[0] + "/postgres", database)
    if redis := os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_database(redis, redis_db)
    return env


def drop_services(env: Mapping[str, str]) -> None:
    """Drop the database ``services_env`` created (Redis databases are flushed at their next use)."""
    from tests.servers import drop_database

    url = env.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        server, name = url.rsplit("/", 1)
        drop_database(server + "/postgres", name)


def manage(
    args: list[str], env: Mapping[str, str], *, python: str = sys.executable, cwd: Path = REPO_ROOT
) -> str:
    """Run ``manage.py`` with the gateway's environment; its stdout, or an error carrying both streams.

    ``python`` and ``cwd`` name another interpreter and site (the host-site test's virtualenv)."""
    result = subprocess.run(
        [python, "manage.py", *args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result.stdout


def create_client_key(
    env: Mapping[str, str], name: str, *, python: str = sys.executable, cwd: Path = REPO_ROOT
) -> str:
    """``createclientkey`` prints the key alone on its last stdout line."""
    output = manage(["createclientkey", name], env, python=python, cwd=cwd)
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines:
        raise RuntimeError("createclientkey printed nothing")
    return lines[-1].strip()


def create_superuser(env: Mapping[str, str], username: str, password: str) -> None:
    """``createsuperuser --noinput`` with the ``DJANGO_SUPERUSER_*`` variables, as an operator scripts it."""
    manage(
        ["createsuperuser", "--noinput", "-v", "0"],
        {
            **env,
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_PASSWORD": password,
            "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
        },
    )


class AdminSession:
    """Django's admin over plain HTTP with a logged-in session: what an operator's script does.

    ``save`` posts a form the way the browser does (CSRF token from the cookie) and insists on the admin's
    "saved" answer, a redirect; anything else (a form with errors) fails with the page's error list.
    """

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30.0)
        self.client.get("/admin/login/")
        self.save("/admin/login/?next=/admin/", {"username": username, "password": password})

    def save(self, path: str, data: Mapping[str, str]) -> httpx.Response:
        csrf = {"csrfmiddlewaretoken": self.client.cookies["csrftoken"]}
        response = self.client.post(path, data={**data, **csrf})
        if response.status_code != 302:
            errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S)
            raise AssertionError(f"POST {path} answered {response.status_code}, not a redirect: {errors}")
        return response

    def add(self, model: str, data: Mapping[str, str]) -> int:
        """Add a ``streaming`` object through its admin form; its id ("save and continue" redirects to it)."""
        response = self.save(f"/admin/streaming/{model}/add/", {**data, "_continue": "1"})
        found = re.search(r"/(\d+)/change/", response.headers["location"])
        assert found, response.headers["location"]
        return int(found.group(1))

    def create_client_key(self, name: str, **limits: str) -> tuple[int, str]:
        """Add a client key through the admin; its id and the key the page shows once."""
        form = {
            "name": name,
            "is_active": "on",
            "expires_at_0": "",
            "expires_at_1": "",
            "allowed_models": "",
            "rpm_limit": "",
            "max_concurrent_streams": "",
            **limits,
            "csrfmiddlewaretoken": self.client.cookies["csrftoken"],
        }
        page = self.client.post("/admin/streaming/clientkey/add/", data=form)
        key = re.search(r'value="(gwk_[A-Za-z0-9_-]+)"', page.text)
        change = re.search(r"/admin/streaming/clientkey/(\d+)/change/", page.text)
        assert page.status_code == 200 and key and change, page.text[:2000]
        return int(change.group(1)), key.group(1)

    def change_client_key(self, key_id: int, name: str, **fields: str) -> None:
        """Save a client key's change form with these fields (an unchecked box is left out, as browsers do)."""
        form = {
            "name": name,
            "expires_at_0": "",
            "expires_at_1": "",
            "allowed_models": "",
            "rpm_limit": "",
            "max_concurrent_streams": "",
            **fields,
        }
        self.save(f"/admin/streaming/clientkey/{key_id}/change/", form)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> AdminSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _listening_socket() -> socket.socket:
    """A socket bound to a free loopback port, handed to uvicorn with ``--fd`` (no port race).

    TCP_NODELAY is set on the listener because accepted sockets inherit it: uvicorn sets it on sockets
    it binds itself, not on one given with ``--fd``, and without it every response written in two parts
    (head, then body) waits ~40 ms for a delayed ACK (measured: 45 ms against 0.4 ms per request).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    sock.set_inheritable(True)
    return sock


def start_gateway(
    name: str,
    *,
    env: Mapping[str, str],
    client_key: str,
    upstream_key: str,
    data_dir: Path,
    log_path: Path,
    app: str = "gateway.asgi:application",
    health_path: str = "/healthz",
    bind_itself: bool = False,
    python: str = sys.executable,
    cwd: Path = REPO_ROOT,
) -> Gateway:
    """Start uvicorn on a free loopback port and wait until ``GET {health_path}`` answers.

    The listening socket is handed over with ``--fd`` (no port race), unless ``bind_itself``: then uvicorn
    binds the port, as in production, so that closing it at shutdown refuses new connections (an
    inherited socket stays open in the process, and connections to it queue unanswered).
    """
    sock = _listening_socket()
    port = sock.getsockname()[1]
    where = ["--fd", str(sock.fileno())]
    if bind_itself:
        sock.close()
        where = ["--host", "127.0.0.1", "--port", str(port)]
    log = log_path.open("ab")
    try:
        process = subprocess.Popen(
            [
                python,
                "-m",
                "uvicorn",
                app,
                *where,
                "--no-access-log",
                "--log-level",
                "info",
                "--timeout-graceful-shutdown",
                "3",
            ],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=() if bind_itself else (sock.fileno(),),
        )
    finally:
        log.close()
        sock.close()
    gateway = Gateway(
        name=name,
        base_url=f"http://127.0.0.1:{port}",
        client_key=client_key,
        upstream_key=upstream_key,
        data_dir=data_dir,
        log_path=log_path,
        env=dict(env),
        process=process,
    )
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"gateway {name!r} exited with {process.returncode} before it served /healthz:\n"
                f"{gateway.log_since(0)}"
            )
        try:
            if httpx.get(f"{gateway.base_url}{health_path}", timeout=1.0).status_code == 200:
                return gateway
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            gateway.stop()
            raise RuntimeError(
                f"gateway {name!r} did not serve /healthz in {STARTUP_TIMEOUT}s:\n{gateway.log_since(0)}"
            )
        time.sleep(0.05)


def launch_gateway(
    name: str,
    *,
    data_dir: Path,
    upstream_url: str,
    extra: Mapping[str, str] | None = None,
    app: str = "gateway.asgi:application",
    health_path: str = "/healthz",
    cwd: Path = REPO_ROOT,
) -> Gateway:
    """A gateway on a fresh data dir: its own upstream key, migrated database and client key, started.

    ``cwd``: the checkout to run it from (this one by default; the benchmark's ``--baseline`` is another).
    """
    upstream_key = "sk-test-" + secrets.token_hex(16)
    env = gateway_env(data_dir=data_dir, upstream_url=upstream_url, upstream_key=upstream_key, extra=extra)
    manage(["migrate", "--noinput", "-v", "0"], env, cwd=cwd)
    return start_gateway(
        name,
        env=env,
        client_key=create_client_key(env, name, cwd=cwd),
        upstream_key=upstream_key,
        data_dir=data_dir,
        log_path=data_dir / f"{name}.log",
        app=app,
        health_path=health_path,
        cwd=cwd,
    )


def free_port() -> int:
    """A loopback port with nothing listening on it (for an unreachable upstream)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_sse(raw: bytes | str) -> list[tuple[str | None, Any]]:
    """Anthropic SSE from the gateway as ``(event name, parsed data)`` pairs, comments skipped.

    Deliberately strict (only ``\\n`` line endings, JSON data): the gateway writes exactly this form.
    """
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    events: list[tuple[str | None, Any]] = []
    for frame in text.split("\n\n"):
        if not frame.strip():
            continue
        name: str | None = None
        data: list[str] = []
        for line in frame.split("\n"):
            if line.startswith(":"):
                continue
            key, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if key == "event":
                name = value
            elif key == "data":
                data.append(value)
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events


def event_names(events: Iterable[tuple[str | None, Any]], *, drop_pings: bool = True) -> list[str | None]:
    return [name for name, _ in events if not (drop_pings and name == "ping")]


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds passed; whether it became true."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def anthropic_headers(key: str) -> dict[str, str]:
    """What the SDK sends, for raw httpx requests."""
    return {"x-api-key": key, "anthropic-version": "2023-06-01", "content-type": "application/json"}


def answer(events: list[dict[str, Any]]) -> Callable[[RecordedRequest], Behaviour]:
    """Serve one upstream answer whichever way the gateway asks: SSE if it sent ``stream: true``, else JSON.

    The gateway may stream upstream even for non-streaming clients; tests should not care.
    """

    def choose(request: RecordedRequest) -> Behaviour:
        if request.json().get("stream"):
            return sse_events(events)
        return json_response(final_response(events))

    return choose


def fixture_message(name: str, model: str = "claude-sonnet-4-6") -> dict[str, Any]:
    """What the official SDK's ``get_final_message()`` makes of ``tests/fixtures/<name>.anthropic.sse``.

    The expected side of the golden end-to-end tests, computed offline by the SDK itself.
    """
    import anthropic
    import httpx2

    data = (FIXTURES_DIR / f"{name}.anthropic.sse").read_bytes()

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=data)

    with (
        anthropic.Anthropic(
            api_key="offline",
            base_url="http://offline",
            http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        ) as sdk,
        sdk.messages.stream(model=model, max_tokens=1, messages=[{"role": "user", "content": "x"}]) as stream,
    ):
        return stream.get_final_message().model_dump()


def message_text(item: Mapping[str, Any]) -> str:
    """The text of an upstream input message item, whether its content is a string or a list of parts."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, Mapping))


def items_of_type(payload: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """Input items of one ``type`` (message items may omit ``type``: the "easy" form)."""
    return [item for item in payload["input"] if item.get("type", "message") == kind]


def content_parts(payload: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    """Every content part of one type across the input's message items."""
    return [
        part
        for item in items_of_type(payload, "message")
        if isinstance(item.get("content"), list)
        for part in item["content"]
        if part.get("type") == kind
    ]


def golden(name: str) -> Callable[[RecordedRequest], Behaviour]:
    """A recorded case (text_simple, tool_call, reasoning_then_text): the ``.sse`` when the gateway streams
    upstream, else the matching ``.response.json`` body."""
    body = json.loads((FIXTURES_DIR / f"{name}.response.json").read_text())

    def choose(request: RecordedRequest) -> Behaviour:
        return replay(name) if request.json().get("stream") else json_response(body)

    return choose


def fixture_events(name: str) -> list[tuple[str | None, Any]]:
    """The events of ``tests/fixtures/<name>.anthropic.sse``, pings dropped."""
    return [
        event
        for event in parse_sse((FIXTURES_DIR / f"{name}.anthropic.sse").read_bytes())
        if event[0] != "ping"
    ]


def assert_well_formed(events: list[tuple[str | None, Any]]) -> None:
    """Anthropic's event grammar, as the SDKs and Claude Code rely on it (protocol.md A.5, A.6).

    message_start, then per block start / deltas / stop with indices 0..n-1 in order and one block open
    at a time, then message_delta (with usage.output_tokens) and message_stop; pings anywhere; every
    event named by an ``event:`` line equal to its ``data.type``.
    """
    events = [event for event in events if event[0] != "ping"]
    for name, data in events:
        assert name == data["type"], f"event line {name!r} but data.type {data['type']!r}"
    names = [name for name, _ in events]
    assert names[0] == "message_start", names
    assert names[-2:] == ["message_delta", "message_stop"], names
    assert events[-2][1]["usage"]["output_tokens"] is not None
    start = events[0][1]["message"]
    assert start["content"] == []
    assert all(isinstance(start["usage"][field], int) for field in ("input_tokens", "output_tokens"))
    open_index: int | None = None
    next_index = 0
    for name, data in events[1:-2]:
        if name == "content_block_start":
            assert open_index is None, f"block {data['index']} started while {open_index} is open"
            assert data["index"] == next_index, f"expected index {next_index}, got {data['index']}"
            if data["content_block"]["type"] == "tool_use":
                assert data["content_block"]["input"] == {}
            open_index = data["index"]
            next_index += 1
        elif name in ("content_block_delta", "content_block_stop"):
            assert data["index"] == open_index, f"{name} for index {data['index']}, open is {open_index}"
            if name == "content_block_stop":
                open_index = None
        else:
            raise AssertionError(f"unexpected {name} between message_start and message_delta")
    assert open_index is None, f"block {open_index} never stopped"


def without_pings(events: list[tuple[str | None, Any]]) -> list[tuple[str | None, Any]]:
    return [event for event in events if event[0] != "ping"]


def node_clients() -> Path:
    """``tests/node`` with its npm packages installed (``install.sh`` is a no-op when they are current).

    Skips only when node/npm are missing; an install failure is an error, not a skip.
    """
    import shutil

    import pytest

    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are not installed: the TypeScript SDK and Claude Code tests need them")
    result = subprocess.run(
        ["bash", str(NODE_DIR / "install.sh")], capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"tests/node/install.sh failed:\n{result.stdout}\n{result.stderr}")
    return NODE_DIR


@dataclass
class ProxiedRequest:
    """One request a client sent through ``RecordingProxy``, and the status the gateway answered."""

    method: str
    target: str  # path with its query string, as sent
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    failure: str | None = None  # why the proxy could not relay the answer, if it could not

    def json(self) -> Any:
        return json.loads(self.body)


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


class RecordingProxy:
    """A loopback reverse proxy that records what a client (Claude Code) sends before the gateway sees it.

    Bytes pass through unchanged in both directions (compressed bodies keep their Content-Encoding);
    responses are relayed chunk by chunk as they arrive, so streams stay streams.
    """

    def __init__(self, target: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[ProxiedRequest] = []
        proxy = self
        upstream = httpx.Client(base_url=target, timeout=httpx.Timeout(120.0, connect=5.0))

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                record = ProxiedRequest(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                proxy.requests.append(record)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | {"host"}}
                request = upstream.build_request(self.command, self.path, headers=headers, content=body)
                try:
                    self._send(upstream.send(request, stream=True), record)
                except Exception as exc:
                    record.failure = repr(exc)
                    self.close_connection = True

            def _send(self, response: httpx.Response, record: ProxiedRequest) -> None:
                try:
                    record.status = response.status_code
                    record.response_headers = dict(response.headers)
                    self.send_response(response.status_code)
                    for name, value in response.headers.multi_items():
                        if name.lower() not in _HOP_BY_HOP:
                            self.send_header(name, value)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in response.iter_raw():
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                finally:
                    response.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _relay

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

        self._client = upstream
        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def long_text_stream() -> Any:
    """The start of a text answer at once, then a "tick" delta every 50 ms for about 20 s."""
    frames = [sse_frame(event) for event in text_response_events(["Hello"] + [" tick"] * 400)]
    return raw_stream([b"".join(frames[:5]), *frames[5:]], delay=0.05)


def hang_up_after_first_delta(gateway: Gateway) -> None:
    with httpx.stream(
        "POST",
        f"{gateway.base_url}/v1/messages",
        json={
            "model": "claude-sonnet-4-6",
            "max_tokens": 256,
            "stream": True,
            "messages": [{"role": "user", "content": "Hi"}],
        },
        headers=anthropic_headers(gateway.client_key),
        timeout=10,
    ) as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes():
            if b"text_delta" in chunk:
                break
