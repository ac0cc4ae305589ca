"""Issue 9's load scenarios (tests/load/scenarios.py) against the gateway of any checkout: its figures, as JSON.

    .venv/bin/python bench/load_figures.py                 # this checkout
    .venv/bin/python bench/load_figures.py ../before       # another, with a .venv of its own
                                                           # (python3 -m venv .venv && .venv/bin/pip install -r requirements-dev.txt)

The before/after table of docs/load.md is two runs of this. It starts PostgreSQL and Redis
(tests/servers.py), the fake upstream and the gateways of tests/load/gateways.py from the checkout, and
runs every scenario once, in the load group's order and sizes. An older checkout reads the settings it
knows from the environment and ignores the rest: no /metrics, no large-body bound, no Redis; its pool
wait defaults to 10 s, so the burst also runs with each checkout's default wait.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.upstream import FakeUpstream
from tests.load import scenarios
from tests.load.gateways import SMALL_POOL_SLOTS, SMALL_POOL_WAIT, LoadGateways
from tests.servers import RedisDatabase, create_database, postgres_server, redis_database, redis_server


async def measure(gateways: LoadGateways) -> dict[str, Any]:
    streams, small_pool = gateways.target("streams"), gateways.target("small-pool")
    pool = {"slots": SMALL_POOL_SLOTS, "pool_timeout": SMALL_POOL_WAIT}
    slots_only = {"GATEWAY_MAX_CONNECTIONS": str(SMALL_POOL_SLOTS)}
    default_wait = gateways.target("small-pool-default-wait", slots_only)
    body = scenarios.big_body()
    bodies = gateways.target("bodies")
    figures = {
        "streams": await scenarios.concurrent_streams(streams),
        "hang_ups": await scenarios.hang_ups(streams),
        "stampede": await scenarios.cold_key_stampede(streams),
        "churn": await scenarios.pool_churn(small_pool, **pool),
        "burst": await scenarios.burst_beyond_pool(small_pool, **pool),
        "burst_default_wait": await scenarios.burst_beyond_pool(
            default_wait, slots=SMALL_POOL_SLOTS, pool_timeout=10
        ),
        "valid_keys": await scenarios.valid_key_requests(gateways.target("flood")),
        "wrong_keys": await scenarios.wrong_key_flood(gateways.target("flood")),
        "one_body": await scenarios.big_bodies(bodies, 1, body),
        "eight_bodies": await scenarios.big_bodies(bodies, 8, body),
    }
    return {name: dataclasses.asdict(value) for name, value in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "checkout", nargs="?", type=Path, help="a checkout with its own .venv (default: this one)"
    )
    args = parser.parse_args()
    where: dict[str, Any] = {}
    if args.checkout is not None:
        root = args.checkout.resolve()
        where = {"python": str(root / ".venv" / "bin" / "python"), "cwd": root}
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(postgres_server()).rsplit("/", 1)[0]
        redis = stack.enter_context(redis_server())
        services = {
            "DATABASE_URL": create_database(server + "/postgres", "gateway_load"),
            "REDIS_URL": redis_database(redis, RedisDatabase.LOAD),
        }
        fake = stack.enter_context(FakeUpstream())
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        gateways = LoadGateways(data_dir, fake, services, metrics=not where, **where)
        stack.callback(gateways.stop)
        checkout = str(where.get("cwd", "this checkout"))
        print(json.dumps({"checkout": checkout, **asyncio.run(measure(gateways))}, indent=1))


if __name__ == "__main__":
    main()
