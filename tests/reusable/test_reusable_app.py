"""The app in someone else's Django site, installed with pip and set up by following docs/integrate.md.

The wheel is built from the checkout and installed, with its declared dependencies at the project's pins,
into a fresh virtualenv; ``django-admin startproject mysite`` makes the site there, and the doc's marked
code blocks are appended to its files, so the page is tested as written. The site runs under uvicorn from
that virtualenv, away from the checkout, importing ``streaming`` from site-packages; the official SDK,
pointed at ``<site>/llm``, must work unchanged: through startproject's ``asgi.py`` (the host's default
middleware in front of the API) and through the doc's optional ``asgi_api.py`` (the app's own handler).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.e2e.helpers import (
    REPO_ROOT,
    AdminSession,
    Gateway,
    answer,
    create_client_key,
    gateway_env,
    manage,
    start_gateway,
)
from tests.fakes.upstream import FakeUpstream, text_response_events
from tests.servers import RedisDatabase, redis_database

pytestmark = pytest.mark.e2e

DOC = REPO_ROOT / "docs" / "integrate.md"
SITES = {"startproject asgi.py": "mysite.asgi:application", "docs asgi_api.py": "mysite.asgi_api:application"}
# The test's own edits of startproject's settings, as any deployment makes them; everything else is the doc's.
DEPLOYMENT_SETTINGS = 'DEBUG = False\nALLOWED_HOSTS = ["127.0.0.1", "localhost"]\n'


def pip(*args: str) -> None:
    """The suite's own pip (``--python`` points it at another environment); quiet unless it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def build_wheel(out: Path) -> Path:
    """``pip wheel`` on a copy of what the build reads, so the checkout gets no build/ or egg-info."""
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "streaming", source / "streaming", ignore=shutil.ignore_patterns("__pycache__")
    )
    pip("wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source))
    (wheel,) = out.glob("*.whl")
    return wheel


def constraints(out: Path) -> Path:
    """requirements.txt as pip constraints (constraints take no extras): the wheel's dependencies resolve
    to the project's pins, which also proves each pin lies in the wheel's declared range."""
    lines = []
    for line in (REPO_ROOT / "requirements.txt").read_text().splitlines():
        requirement = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).strip()
        if requirement:
            lines.append(requirement)
    path = out / "constraints.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def doc_blocks(target: str) -> str:
    """The code blocks docs/integrate.md marks for ``target`` (a file of the site), in order."""
    pattern = rf"<!-- host-site: {re.escape(target)} -->\n```python\n(.*?)```"
    blocks = re.findall(pattern, DOC.read_text(), flags=re.DOTALL)
    assert blocks, f"docs/integrate.md marks no block for {target}"
    return "\n".join(blocks)


def append(path: Path, code: str) -> None:
    with path.open("a") as handle:
        handle.write("\n" + code)


@dataclass
class HostSite:
    python: str
    site_dir: Path
    wheel: Path
    env: dict[str, str]
    client_key: str

    def python_says(self, code: str) -> str:
        """What ``code`` prints when run as the site runs: its interpreter, directory and environment."""
        return subprocess.run(
            [self.python, "-c", code],
            cwd=self.site_dir,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture(scope="module")
def host(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> HostSite:
    """pip install the wheel into a fresh virtualenv, startproject, follow the doc, migrate, make a key."""
    root = tmp_path_factory.mktemp("host-site")
    wheel = build_wheel(root)
    environment = root / "venv"
    venv.create(environment, with_pip=False)  # the suite's pip installs into it: no ensurepip wait
    python = str(environment / "bin" / "python")
    pip("--python", python, "install", "--quiet", f"{wheel}[redis]", "uvicorn", "-c", str(constraints(root)))

    site_dir = root / "site"
    site_dir.mkdir()
    subprocess.run([environment / "bin" / "django-admin", "startproject", "mysite", site_dir], check=True)
    append(site_dir / "mysite" / "settings.py", DEPLOYMENT_SETTINGS + doc_blocks("mysite/settings.py"))
    append(site_dir / "mysite" / "urls.py", doc_blocks("mysite/urls.py"))
    (site_dir / "mysite" / "asgi_api.py").write_text(doc_blocks("mysite/asgi_api.py"))

    env = gateway_env(
        data_dir=root,
        upstream_url=upstream.url,
        upstream_key="sk-test-host-site",
        extra={"DJANGO_SETTINGS_MODULE": "mysite.settings"},
    )
    env.pop("PYTHONPATH", None)  # nothing may lead the site back to the checkout
    if redis := os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_database(redis, RedisDatabase.HOST_SITE)
    manage(["migrate", "--noinput", "-v", "0"], env, python=python, cwd=site_dir)
    client_key = create_client_key(env, "host-site", python=python, cwd=site_dir)
    return HostSite(python=python, site_dir=site_dir, wheel=wheel, env=env, client_key=client_key)


@pytest.fixture(scope="module")
def sites(host: HostSite) -> Iterator[dict[str, Gateway]]:
    """The same site (one database) served twice: through each ASGI application the doc offers."""
    running: dict[str, Gateway] = {}
    try:
        for name, app in SITES.items():
            running[name] = start_gateway(
                name,
                env=host.env,
                client_key=host.client_key,
                upstream_key="sk-test-host-site",
                data_dir=host.site_dir,
                log_path=host.site_dir / f"{app.split(':')[0]}.log",
                app=app,
                health_path="/llm/healthz",
                python=host.python,
                cwd=host.site_dir,
            )
        yield running
    finally:
        for site in running.values():
            site.stop()


@pytest.fixture(params=list(SITES))
def site(request: pytest.FixtureRequest, sites: dict[str, Gateway]) -> Gateway:
    return sites[request.param]


@pytest.fixture
def client(site: Gateway, upstream: FakeUpstream) -> Iterator[anthropic.Anthropic]:
    upstream.reset()
    with anthropic.Anthropic(base_url=f"{site.base_url}/llm", api_key=site.client_key, max_retries=0) as sdk:
        yield sdk


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_holds_the_app_and_nothing_else(host: HostSite) -> None:
    top_level = {name.split("/")[0] for name in wheel_names(host.wheel)}
    assert {name for name in top_level if not name.endswith(".dist-info")} == {"streaming"}


def test_the_wheel_carries_every_file_of_the_app(host: HostSite) -> None:
    checkout = {
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "streaming").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert checkout - wheel_names(host.wheel) == set()


def test_the_site_imports_the_app_from_its_virtualenv_not_the_checkout(host: HostSite) -> None:
    where = host.python_says("import streaming; print(streaming.__file__)")
    assert Path(where).is_relative_to(Path(host.python).parent.parent / "lib")
    assert not Path(where).is_relative_to(REPO_ROOT)


def test_the_gateway_project_is_not_installed(host: HostSite) -> None:
    assert host.python_says("import importlib.util; print(importlib.util.find_spec('gateway'))") == "None"


def test_the_host_site_passes_its_system_checks(host: HostSite) -> None:
    assert "no issues" in manage(["check"], host.env, python=host.python, cwd=host.site_dir)


def test_create_works_under_a_prefix(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.set_default(answer(text_response_events("Hello from the host site")))
    message = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the host site"
    assert upstream.requests[-1].headers["x-correlation-id"]


def test_stream_works_under_a_prefix(client: anthropic.Anthropic, upstream: FakeUpstream) -> None:
    upstream.set_default(answer(text_response_events(["Hello", " again"])))
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Hello again"
    assert final.stop_reason == "end_turn"


def test_models_are_listed_under_the_prefix(client: anthropic.Anthropic) -> None:
    assert [m.id for m in client.models.list()]


def test_errors_keep_the_envelope_in_the_host_site(site: Gateway) -> None:
    response = httpx.post(f"{site.base_url}/llm/v1/messages", json={}, headers={"x-api-key": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert response.headers["request-id"].startswith("req_")


def test_the_host_sites_own_pages_are_untouched(site: Gateway) -> None:
    response = httpx.get(f"{site.base_url}/admin/login/")
    assert response.status_code == 200
    assert "Django administration" in response.text


OPERATOR_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def operator(host: HostSite) -> str:
    """A superuser of the host site, made the way docs/integrate.md says (createsuperuser --noinput)."""
    manage(
        ["createsuperuser", "--noinput", "-v", "0"],
        {
            **host.env,
            "DJANGO_SUPERUSER_USERNAME": "operator",
            "DJANGO_SUPERUSER_PASSWORD": OPERATOR_PASSWORD,
            "DJANGO_SUPERUSER_EMAIL": "operator@example.com",
        },
        python=host.python,
        cwd=host.site_dir,
    )
    return "operator"


def test_the_apps_admin_pages_open_in_the_host_sites_admin(operator: str, site: Gateway) -> None:
    paths = (
        "/admin/streaming/upstream/",
        "/admin/streaming/modelroute/",
        "/admin/streaming/clientkey/add/",
        "/admin/streaming/usagerecord/chart/",
    )
    with AdminSession(site.base_url, operator, OPERATOR_PASSWORD) as admin:
        pages = {path: admin.client.get(path) for path in paths}

    assert {path: page.status_code for path, page in pages.items()} == dict.fromkeys(paths, 200)
    assert "<svg" in pages["/admin/streaming/usagerecord/chart/"].text


def test_startproject_asgi_runs_the_api_behind_the_host_middleware(sites: dict[str, Gateway]) -> None:
    response = httpx.get(f"{sites['startproject asgi.py'].base_url}/llm/healthz")
    assert response.headers["x-frame-options"] == "DENY"  # XFrameOptionsMiddleware saw it


def test_the_docs_asgi_spares_the_api_the_host_middleware(sites: dict[str, Gateway]) -> None:
    response = httpx.get(f"{sites['docs asgi_api.py'].base_url}/llm/healthz")
    assert response.status_code == 200
    assert "x-frame-options" not in response.headers


def test_the_docs_asgi_refuses_an_oversized_body_before_reading_it(sites: dict[str, Gateway]) -> None:
    """Only the head is sent, declaring 64 MiB: the answer must come without the body."""
    url = httpx.URL(sites["docs asgi_api.py"].base_url)
    with socket.create_connection((url.host, url.port), timeout=5) as sock:
        sock.sendall(
            b"POST /llm/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 67108864\r\n\r\n"
        )
        head = sock.recv(65536).decode("latin-1")
    assert head.startswith("HTTP/1.1 413")
