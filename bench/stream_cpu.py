"""Gateway CPU per streamed request and per upstream event, measured on loopback.

Starts the real gateway under uvicorn and the test tree's fake upstream, streams requests through it
with httpx, and reads the gateway process's CPU time from /proc before and after. Two workloads: short
answers (the per-request cost) and long answers (the per-event cost, by difference). Prints figures;
asserts nothing (targets: ~3 ms per short request, ~15 µs per upstream event on 2 cores).

    .venv/bin/python bench/stream_cpu.py [--requests 200] [--events 2000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.helpers import launch_gateway
from tests.fakes.upstream import FakeUpstream, sse_events, text_response_events

BODY = {
    "model": "claude-sonnet-4-6",
    "max_tokens": 1024,
    "stream": True,
    "messages": [{"role": "user", "content": "Hi"}],
}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (and its reaped children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / TICK


async def run(base_url: str, key: str, requests: int, concurrency: int) -> tuple[int, float]:
    limits = httpx.Limits(max_connections=concurrency)
    headers = {"x-api-key": key, "anthropic-version": "2023-06-01"}
    received = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60, headers=headers) as client:

        async def worker() -> None:
            nonlocal received
            while not queue.empty():
                queue.get_nowait()
                async with client.stream("POST", "/v1/messages", json=BODY) as response:
                    response.raise_for_status()
                    async for chunk in response.aiter_raw():
                        received += len(chunk)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return received, time.perf_counter() - started


def measure(
    gateway_pid: int,
    fake: FakeUpstream,
    events: list[dict[str, object]],
    args: argparse.Namespace,
    base_url: str,
    key: str,
) -> tuple[float, float]:
    fake.set_default(lambda request: sse_events(events))
    asyncio.run(run(base_url, key, 10, args.concurrency))  # warm up: pool, key cache, imports
    before = cpu_seconds(gateway_pid)
    _, wall = asyncio.run(run(base_url, key, args.requests, args.concurrency))
    used = cpu_seconds(gateway_pid) - before
    return used / args.requests, wall


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--events", type=int, default=2000, help="text deltas in a long answer")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, FakeUpstream() as fake:
        gateway = launch_gateway(
            "bench", data_dir=Path(tmp), upstream_url=fake.url, extra={"LOG_LEVEL": "WARNING"}
        )
        key = gateway.client_key
        try:
            if gateway.process is None:
                raise RuntimeError("the gateway did not start")
            pid = gateway.process.pid
            short = text_response_events(["Hello", " there", ", how", " can", " I", " help", "?"])
            long = text_response_events(["tok "] * args.events)
            short_cpu, short_wall = measure(pid, fake, short, args, gateway.base_url, key)
            long_cpu, long_wall = measure(pid, fake, long, args, gateway.base_url, key)
        finally:
            gateway.stop()
    per_event = (long_cpu - short_cpu) / (len(long) - len(short))
    print(
        f"short answers: {len(short)} upstream events each, {args.requests} requests, concurrency {args.concurrency}"
    )
    print(f"  gateway CPU per request: {short_cpu * 1e3:.2f} ms   (wall {short_wall:.2f} s)")
    print(f"long answers: {len(long)} upstream events each")
    print(f"  gateway CPU per request: {long_cpu * 1e3:.2f} ms   (wall {long_wall:.2f} s)")
    print(f"gateway CPU per upstream event: {per_event * 1e6:.1f} µs")


if __name__ == "__main__":
    main()
