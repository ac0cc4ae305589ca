"""CPU of the gateway's upstream transport with httpx and with httpx2, measured on loopback.

Drives streaming/transport (the shared client, ``openai_event_batches``, ``create_openai_response``) against
the test tree's fake upstream (in a child process, so it takes no CPU or GIL from the measured one), once
with each library bound as the transport's HTTP client module, and reads the CPU time of this process.
Three workloads: short streams (per request), non-streaming posts (per request), one long stream (per
event). Runs alternate between the libraries; prints the median and the min-max over the runs.
Asserts nothing.

    .venv/bin/python bench/transport_cpu.py [--runs 7] [--requests 300] [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from django.conf import settings

from streaming.transport import client as transport_client
from streaming.transport import create_openai_response, openai_event_batches, settings_upstream
from streaming.transport import openai as transport_openai
from tests.fakes.upstream import (
    Behaviour,
    FakeUpstream,
    final_response,
    json_response,
    sse_events,
    text_response_events,
)

PAYLOAD = {"model": "gpt-4.1-mini", "input": "hi"}
LIBRARIES = ("httpx", "httpx2")


def use(library: ModuleType) -> None:
    """Bind ``library`` as the HTTP client module of the transport (its modules say ``httpx.…``)."""
    transport_client.httpx = library
    transport_openai.httpx = library


async def short_streams(requests: int) -> int:
    for _ in range(requests):
        async with aclosing(openai_event_batches(PAYLOAD, settings_upstream())) as batches:
            async for _batch in batches:
                pass
    return requests


async def posts(requests: int) -> int:
    for _ in range(requests):
        await create_openai_response(PAYLOAD, settings_upstream())
    return requests


async def long_stream(_: int) -> int:
    events = 0
    async with aclosing(openai_event_batches(PAYLOAD, settings_upstream())) as batches:
        async for batch in batches:
            events += len(batch)
    return events


def cpu_per_unit(workload: Callable[[int], Awaitable[int]], requests: int) -> float:
    """µs of this process's CPU per request (or per event), after a warm-up on the same client."""

    async def run() -> float:
        await workload(max(1, requests // 10))
        started = time.process_time()
        units = await workload(requests)
        return (time.process_time() - started) / units * 1e6

    return asyncio.run(run())


def answers(events: int) -> dict[str, Behaviour]:
    short = text_response_events(["Hello", " there", ", how", " can", " I", " help", "?"])
    return {
        "short": sse_events(short),
        "post": json_response(final_response(short)),
        "long": sse_events(text_response_events(["tok "] * events)),
    }


def serve(answer: str, events: int) -> None:
    """Child process: serve one answer to every request until stdin closes."""
    with FakeUpstream() as fake:
        fake.set_default(answers(events)[answer])
        print(fake.url, flush=True)
        sys.stdin.read()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--events", type=int, default=20000, help="text deltas in the long stream")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.events)

    workloads = {
        "short stream (15 events), µs/request": ("short", short_streams),
        "non-streaming post, µs/request": ("post", posts),
        f"long stream ({args.events + 8} events), µs/event": ("long", long_stream),
    }
    libraries = {name: importlib.import_module(name) for name in LIBRARIES}
    for name in LIBRARIES:  # both log every request at INFO; the gateway's settings quiet them
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
    settings.OPENAI_API_KEY = "sk-bench-0123456789"
    for title, (answer, workload) in workloads.items():
        command = [sys.executable, __file__, "--serve", answer, "--events", str(args.events)]
        with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as fake:
            assert fake.stdout is not None and fake.stdin is not None
            settings.OPENAI_BASE_URL = fake.stdout.readline().strip()
            samples: dict[str, list[float]] = {name: [] for name in LIBRARIES}
            for run in range(args.runs):
                for name in LIBRARIES if run % 2 == 0 else LIBRARIES[::-1]:
                    use(libraries[name])
                    samples[name].append(cpu_per_unit(workload, args.requests))
            fake.stdin.close()
        print(title)
        for name, values in samples.items():
            print(
                f"  {name:7} median {statistics.median(values):8.1f}"
                f"   min {min(values):8.1f}   max {max(values):8.1f}   ({args.runs} runs)"
            )


if __name__ == "__main__":
    main()
