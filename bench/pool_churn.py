"""Minimal reproduction of issue 9.1 (encode/httpcore#1093) on a bare client, without the gateway.

A 5-slot pool holds 5 open streams from a loopback asyncio server and 5 more requests queue for a slot.
Then the streams end abruptly (their clients hang up, or the server resets them) and the queued clients
hang up ``delay`` event-loop ticks later, for delay = 0, 1, 2, ... Each round ends by checking how many
streams can be open at once. Prints the pool's connections after each round and stops at the first loss.

    .venv/bin/python bench/pool_churn.py httpx     # httpcore 1.0.9: slots lost at 1 tick (hang-up), 2 (reset)
    .venv/bin/python bench/pool_churn.py httpx2    # httpcore2: every round keeps all 5

Two windows lose a slot in httpcore 1.0.9: a queued request that the pool has just handed a *new*
connection (the old one closed), cancelled before it starts connecting, leaves that connection CONNECTING
with no owner; a stream whose client hangs up while the pool closes its reset connection leaves it
ACTIVE with no owner (the cancellation lands on a lock checkpoint inside the shielded close). Neither is
ever reaped. tests/unit/test_transport_pool.py is the same churn through the gateway's transport.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import socket
import struct
from types import ModuleType
from typing import Any

SLOTS = 5
_held: list[asyncio.StreamWriter] = []


async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Each request: 200 chunked stream headers and one chunk, then silence until the client goes."""
    with contextlib.suppress(Exception):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = await reader.read(4096)
            if not chunk:
                return
            head += chunk
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        _held.append(writer)
        await reader.read(1)
    writer.close()


def reset_all() -> None:
    """RST every held stream now (SO_LINGER 0 + abort), from the event loop itself."""
    while _held:
        writer = _held.pop()
        with contextlib.suppress(OSError):
            writer.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        writer.transport.abort()


async def read_stream(client: Any, url: str, started: asyncio.Event | None = None) -> None:
    async with client.stream("GET", url) as response:
        async for _ in response.aiter_bytes():
            if started is not None:
                started.set()


async def open_streams(client: Any, url: str) -> tuple[list[asyncio.Task[None]], int]:
    """Start SLOTS streams; how many had their first bytes within 1.5 s."""
    events = [asyncio.Event() for _ in range(SLOTS)]
    tasks = [asyncio.create_task(read_stream(client, url, event)) for event in events]
    waiters = [asyncio.create_task(event.wait()) for event in events]
    _, pending = await asyncio.wait(waiters, timeout=1.5)
    for waiter in pending:
        waiter.cancel()
    return tasks, sum(event.is_set() for event in events)


async def hang_up(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def churn_round(client: Any, url: str, ending: str, delay: int) -> int:
    streams, started = await open_streams(client, url)
    if started < SLOTS:
        await hang_up(streams)
        return started
    queued = [asyncio.create_task(read_stream(client, url)) for _ in range(SLOTS)]
    await asyncio.sleep(0.02)  # the queued requests now wait on the pool
    if ending == "hang-up":
        for task in streams:
            task.cancel()
    else:
        reset_all()
    for _ in range(delay):
        await asyncio.sleep(0)
    await hang_up(queued)
    await hang_up(streams)  # in the reset rounds these clients hang up during the pool's cleanup
    probe, usable = await open_streams(client, url)
    await hang_up(probe)
    return usable


def pool_state(client: Any) -> str:
    """The pool's connection states (private attributes: diagnosis only)."""
    pool = client._transport._pool
    states = [c.info().split(", ")[2] if ", " in c.info() else c.info() for c in pool.connections]
    return f"{len(pool._requests)} requests, connections {states}"


async def main(library: ModuleType, rounds: int) -> None:
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    timeout = library.Timeout(connect=2.0, read=5.0, write=2.0, pool=0.5)
    for ending in ("hang-up", "reset"):
        limits = library.Limits(max_connections=SLOTS, max_keepalive_connections=SLOTS)
        async with library.AsyncClient(limits=limits, timeout=timeout) as client:
            for delay in range(rounds):
                usable = await churn_round(client, url, ending, delay)
                print(
                    f"{library.__name__} {ending:7} queued hung up {delay} ticks later: "
                    f"usable slots {usable}/{SLOTS}; pool: {pool_state(client)}"
                )
                if usable < SLOTS:
                    break
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("library", choices=["httpx", "httpx2"])
    parser.add_argument("--rounds", type=int, default=8, help="delays 0 .. rounds-1 ticks")
    args = parser.parse_args()
    asyncio.run(main(importlib.import_module(args.library), args.rounds))
