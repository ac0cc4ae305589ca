"""The documented deployment: Debian's nginx with deploy/nginx/anthropic-gateway.conf, as it is, in front of
the gateway under uvicorn. Only the two lines the file marks ``TEST:`` change (the ports)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.e2e.helpers import (
    REPO_ROOT,
    Gateway,
    anthropic_headers,
    hang_up_after_first_delta,
    long_text_stream,
)
from tests.fakes.upstream import FakeUpstream, slow_stream, text_response_events
from tests.servers import free_port, need

SITE = REPO_ROOT / "deploy" / "nginx" / "anthropic-gateway.conf"
REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}


def render_site(listen: int, upstream_port: int) -> str:
    """The documented site with its two ``TEST:`` lines pointed at this test's ports, nothing else."""
    lines = SITE.read_text().splitlines(keepends=True)
    marked = [i for i, line in enumerate(lines) if "# TEST:" in line]
    assert len(marked) == 2, "the site file marks exactly the two lines a deployment changes"
    for i in marked:
        if "server 127.0.0.1:8000;" in lines[i]:
            lines[i] = lines[i].replace("127.0.0.1:8000", f"127.0.0.1:{upstream_port}")
        elif "listen 80;" in lines[i]:
            lines[i] = lines[i].replace("listen 80;", f"listen 127.0.0.1:{listen};")
    return "".join(lines)


@contextlib.contextmanager
def nginx(root: Path, site: str) -> Iterator[str]:
    """Debian's nginx in the foreground with ``site`` (test-only main config: paths, no daemon)."""
    need("nginx", shutil.which("nginx"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "site.conf").write_text(site)
    (root / "nginx.conf").write_text(
        f"""
user root;
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/site.conf;
}}
"""
    )
    port = int(site.split("listen 127.0.0.1:", 1)[1].split(";", 1)[0])
    with (root / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            ["nginx", "-p", str(root), "-c", str(root / "nginx.conf")],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {(root / 'error.log').read_text()}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def proxied(gateway: Gateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """The default gateway, reached through nginx."""
    with nginx(
        tmp_path_factory.mktemp("nginx"), render_site(free_port(), int(gateway.base_url.rsplit(":", 1)[1]))
    ) as url:
        yield Gateway(**{**gateway.__dict__, "base_url": url})


def test_events_arrive_through_nginx_as_they_are_written(proxied: Gateway, upstream: FakeUpstream) -> None:
    upstream.enqueue(slow_stream(text_response_events([f"w{n} " for n in range(8)]), interval=0.15))
    arrivals = []
    with (
        anthropic.Anthropic(base_url=proxied.base_url, api_key=proxied.client_key, max_retries=0) as sdk,
        sdk.messages.stream(**REQUEST) as stream,
    ):
        for _ in stream.text_stream:
            arrivals.append(time.monotonic())
        text = stream.get_final_text()

    assert text == "".join(f"w{n} " for n in range(8))
    assert arrivals[-1] - arrivals[0] >= 0.7  # spread over the upstream's pace, not delivered at the end


def test_a_client_leaving_through_nginx_still_closes_the_upstream(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    upstream.enqueue(long_text_stream())

    hang_up_after_first_delta(proxied)
    left = time.monotonic()

    assert upstream.wait_for_disconnect(timeout=3.0, since=left) < 3.0


def test_a_body_over_the_limit_is_refused_by_nginx_in_anthropics_envelope(
    proxied: Gateway, upstream: FakeUpstream
) -> None:
    body = (
        b'{"model":"claude-sonnet-4-6","max_tokens":1,"messages":[{"role":"user","content":"'
        + b"x" * (33 << 20)
        + b'"}]}'
    )

    response = httpx.post(
        f"{proxied.base_url}/v1/messages",
        content=body,
        headers=anthropic_headers(proxied.client_key),
        timeout=30,
    )

    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert response.headers["request-id"].startswith("req_")
    assert upstream.requests == []


def test_the_correlation_id_passes_both_ways(proxied: Gateway, upstream: FakeUpstream) -> None:
    upstream.set_default(slow_stream(text_response_events(["ok"]), interval=0.0))
    mine = "0f3b2c1d4e5f60718293a4b5c6d7e8f9"
    with httpx.Client(base_url=proxied.base_url, timeout=10) as http:
        given = http.get(
            "/v1/models", headers={**anthropic_headers(proxied.client_key), "X-Correlation-ID": mine}
        )
        made = http.get("/v1/models", headers=anthropic_headers(proxied.client_key))

    assert given.headers["x-correlation-id"] == mine
    assert len(made.headers["x-correlation-id"]) == 32  # nginx's $request_id, shared with its access log


def test_the_admins_css_is_served_through_the_deployed_stack(proxied: Gateway) -> None:
    response = httpx.get(f"{proxied.base_url}/static/admin/css/base.css", timeout=10)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")


def test_a_gateway_that_is_down_is_an_overloaded_error(tmp_path: Path) -> None:
    with nginx(tmp_path / "nginx", render_site(free_port(), free_port())) as url:
        response = httpx.post(f"{url}/v1/messages", json=REQUEST, timeout=10)

    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"
    assert response.headers["retry-after"] == "1"
