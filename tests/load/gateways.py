"""The load group's gateways: the real one (``uvicorn gateway.asgi:application``, one worker, 127.0.0.1 only)
on PostgreSQL and Redis, as deployed. They share one database, migrated once, and one client key, and
start when first needed, one per configuration:

- ``streams``: room for 600 upstream connections (500 streams at once), ``/metrics`` on;
- ``small-pool``: 5 upstream connections and a half-second pool wait (issue 9.1 and 9.2), ``/metrics`` on;
- ``flood``: its own Redis database, so the failed authentications it counts for 127.0.0.1 refuse no other
  gateway's requests;
- ``bodies``: defaults only, so its memory figures start from a worker that did nothing else.

``python`` and ``cwd`` run them from another checkout (``bench/load_figures.py``: the figures before this
work).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from tests.e2e.helpers import REPO_ROOT, Gateway, create_client_key, gateway_env, manage, start_gateway
from tests.fakes.upstream import FakeUpstream
from tests.load.probes import DatabaseProbe
from tests.load.scenarios import Target
from tests.servers import RedisDatabase, redis_database

METRICS_TOKEN = "load-metrics-" + secrets.token_hex(8)
SMALL_POOL_SLOTS = 5
SMALL_POOL_WAIT = 0.5
SMALL_POOL = {"GATEWAY_MAX_CONNECTIONS": str(SMALL_POOL_SLOTS), "GATEWAY_POOL_TIMEOUT": str(SMALL_POOL_WAIT)}
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "streams": {"GATEWAY_MAX_CONNECTIONS": "600", "GATEWAY_METRICS_TOKEN": METRICS_TOKEN},
    "small-pool": {**SMALL_POOL, "GATEWAY_METRICS_TOKEN": METRICS_TOKEN},
    "flood": {},
    "bodies": {},
}


class LoadGateways:
    """Starts each configuration's gateway on first use; stops them all at the end."""

    def __init__(
        self,
        data_dir: Path,
        fake: FakeUpstream,
        services: dict[str, str],
        *,
        python: str = sys.executable,
        cwd: Path = REPO_ROOT,
        metrics: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.fake = fake
        self.where = {"python": python, "cwd": cwd}
        self.metrics = metrics
        self.upstream_key = "sk-test-" + secrets.token_hex(24)
        self.env = gateway_env(
            data_dir=data_dir,
            upstream_url=fake.url,
            upstream_key=self.upstream_key,
            extra={**services, "GATEWAY_MODEL_MAP": "claude-*=gpt-5"},
        )
        manage(["migrate", "--noinput", "-v", "0"], self.env, python=python, cwd=cwd)
        self.client_key = create_client_key(self.env, "load", python=python, cwd=cwd)
        self.database = DatabaseProbe(services["DATABASE_URL"])
        self.running: dict[str, Gateway] = {}

    def target(self, name: str, extra: dict[str, str] | None = None) -> Target:
        """The gateway of configuration ``name`` (``extra``: more settings, the first time it starts)."""
        python, cwd = self.where["python"], self.where["cwd"]
        if name not in self.running:
            env = {**self.env, **CONFIGURATIONS.get(name, {}), **(extra or {})}
            if name == "flood":
                env["REDIS_URL"] = redis_database(env["REDIS_URL"], RedisDatabase.LOAD_FLOOD)
            self.running[name] = start_gateway(
                name,
                env=env,
                client_key=self.client_key,
                upstream_key=self.upstream_key,
                data_dir=self.data_dir,
                log_path=self.data_dir / f"gateway-{name}.log",
                python=python,
                cwd=cwd,
            )
        token = CONFIGURATIONS.get(name, {}).get("GATEWAY_METRICS_TOKEN") if self.metrics else None
        return Target(self.running[name], self.fake, self.database, metrics_token=token, **self.where)

    def stop(self) -> None:
        for gateway in self.running.values():
            gateway.stop()
        self.database.close()
