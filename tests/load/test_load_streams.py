"""Many streams at once, and many clients hanging up: every answer exact, nothing left behind.

"Back near baseline" means: measured against the worker as the same load left it once before (its
memory allocators keep their high-water mark, so the first burst is the warm-up), resident memory within
``RSS_SLACK_MIB`` (16 kB per stream: a leak of one stream's buffers, translator or task would exceed it;
measured 0 to 2 MiB), open descriptors within ``FD_SLACK`` (measured -1 to +1), and no more idle upstream
connections than the pool keeps (``GATEWAY_MAX_KEEPALIVE_CONNECTIONS``, 50).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.load.scenarios import Target, concurrent_streams, hang_ups

pytestmark = [pytest.mark.load, pytest.mark.anyio]

RSS_SLACK_MIB = 8
FD_SLACK = 2
KEEPALIVE_CONNECTIONS = 50


async def test_500_concurrent_streams_all_complete_exactly_and_the_worker_returns_to_its_baseline(
    streams: Target, report: Any
) -> None:
    figures = await concurrent_streams(streams, count=500, warm_up=500)
    report(figures)

    assert figures.failed == {}
    assert figures.exact == figures.well_formed == 500
    assert figures.peak_upstream_streams >= 450  # they really were served at the same time
    assert figures.rss_after_mib - figures.rss_baseline_mib <= RSS_SLACK_MIB
    assert figures.fds_after <= figures.fds_baseline + FD_SLACK
    assert figures.upstream_connections_after <= KEEPALIVE_CONNECTIONS


async def test_1000_client_hang_ups_all_close_their_upstream_and_leave_nothing_behind(
    streams: Target, report: Any
) -> None:
    figures = await hang_ups(streams, count=1000, at_once_=50)
    report(figures)

    assert figures.upstream_closed == 1000
    assert figures.upstream_streams_open_after == 0
    assert figures.upstream_connections_after <= figures.upstream_connections_before
    assert figures.open_streams_metric_after == 0
    assert figures.disconnects_metric == 1000
    assert figures.fds_after <= figures.fds_baseline + FD_SLACK
    assert figures.log_problems == 0
