"""gateway/settings.py: environment in, Django settings out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; from django.conf import settings; django.setup(); "
    "print(json.dumps({'secret': settings.SECRET_KEY, 'debug': settings.DEBUG, 'hosts': settings.ALLOWED_HOSTS, "
    "'engine': settings.DATABASES['default']['ENGINE'], 'name': str(settings.DATABASES['default']['NAME']), "
    "'base_url': settings.OPENAI_BASE_URL, 'key': settings.OPENAI_API_KEY, "
    "'generated': settings.GENERATED_SECRET_KEY_FILE and str(settings.GENERATED_SECRET_KEY_FILE)}))"
)


def load_settings(tmp_path: Path, **env: str) -> dict[str, object]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_SECRET_KEY", "DATABASE_URL"}
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "gateway.settings", "GATEWAY_DATA_DIR": str(tmp_path), **env})
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    ).stdout
    result: dict[str, object] = json.loads(out)
    return result


def test_without_secret_key_one_is_generated_once_and_kept_beside_the_database(tmp_path: Path) -> None:
    first = load_settings(tmp_path)
    second = load_settings(tmp_path)
    assert first["secret"] == second["secret"] == (tmp_path / "secret_key").read_text()
    assert len(str(first["secret"])) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert first["generated"] == second["generated"] == str(tmp_path / "secret_key")


def test_secret_key_from_the_environment_wins(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, SECRET_KEY="s3cret")
    assert loaded["secret"] == "s3cret"
    assert loaded["generated"] is None
    assert not (tmp_path / "secret_key").exists()


def test_defaults_are_sqlite_debug_off_and_openai(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["name"] == str(tmp_path / "db.sqlite3")
    assert loaded["debug"] is False
    assert loaded["base_url"] == "https://api.openai.com/v1"
    assert {"localhost", "127.0.0.1"} <= set(loaded["hosts"])  # type: ignore[arg-type]


def test_environment_configures_database_hosts_debug_and_upstream(tmp_path: Path) -> None:
    loaded = load_settings(
        tmp_path,
        DATABASE_URL="postgres://u:p@127.0.0.1:5432/gw",
        DJANGO_ALLOWED_HOSTS="gw.example, api.example",
        DJANGO_DEBUG="true",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        OPENAI_API_KEY="sk-from-env",
    )
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert {"gw.example", "api.example", "localhost"} <= set(loaded["hosts"])  # type: ignore[arg-type]
    assert loaded["debug"] is True
    assert loaded["base_url"] == "http://127.0.0.1:9/v1"
    assert loaded["key"] == "sk-from-env"


def test_a_worker_starting_while_another_writes_the_key_reads_the_same_key(tmp_path: Path) -> None:
    (tmp_path / "secret_key").touch()  # created by another worker, not yet written

    def write_later() -> None:
        time.sleep(0.3)
        (tmp_path / "secret_key").write_text("written-by-the-other-worker")

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        assert load_settings(tmp_path)["secret"] == "written-by-the-other-worker"
    finally:
        writer.join()
