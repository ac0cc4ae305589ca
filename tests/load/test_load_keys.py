"""Floods of keys (issue 9.3, 9.4): a new key used by many requests at once is looked up once; wrong keys
cost no query, connection or log line each, and refusing one costs the gateway no more than twice the CPU
of serving a request. Queries are counted by PostgreSQL (pg_stat_statements), connections by PostgreSQL
and Redis themselves."""

from __future__ import annotations

from typing import Any

import pytest

from tests.load.scenarios import Target, cold_key_stampede, valid_key_requests, wrong_key_flood

pytestmark = [pytest.mark.load, pytest.mark.anyio]

AUTH_FAILURES_PER_MINUTE = 60  # the default: lookups an address may cause per clock minute
REDIS_CONNECTIONS = 3  # the event loop's, the database thread's, one spare: not one per request


async def test_a_new_key_used_by_500_requests_at_once_is_looked_up_once(streams: Target, report: Any) -> None:
    figures = await cold_key_stampede(streams, count=500)
    report(figures)

    assert figures.cold.outcomes == figures.warm.outcomes == {200: 500}
    assert figures.cold.key_lookups == 1
    assert figures.warm.key_lookups == 0
    assert figures.cold.connections_opened <= 1
    assert figures.cold.redis_connections_opened <= REDIS_CONNECTIONS


async def test_a_flood_of_1000_wrong_keys_from_one_address_stays_cheap(flood: Target, report: Any) -> None:
    served = await valid_key_requests(flood, count=1000, concurrency=20)
    figures = await wrong_key_flood(flood, count=1000, concurrency=20)
    report(served, "the same traffic with a valid key, to compare")
    report(figures)

    # A clock minute may turn during the flood: at most twice the per-minute allowance gets a lookup.
    assert figures.key_lookups <= 2 * AUTH_FAILURES_PER_MINUTE
    assert figures.outcomes[401] == figures.key_lookups
    assert figures.outcomes[429] == 1000 - figures.key_lookups
    assert figures.connections_opened <= 1
    assert figures.redis_connections_opened <= REDIS_CONNECTIONS
    assert figures.log_lines <= 3  # the first failure, then one collapsed count per 10 s
    assert figures.cpu_ms_per_request <= 2 * served.cpu_ms_per_request
