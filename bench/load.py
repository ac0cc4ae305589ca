"""The benchmark's load generator, in a process of its own so its CPU never counts as a server's.

Plain HTTP/1.1 over keep-alive connections on uvloop, responses parsed by httptools (the C parser uvicorn
uses): a request costs this process a few tens of microseconds, a small fraction of what the servers under
test spend, so on two cores it leaves them the CPU they need. Bodies are counted, not kept.

``bench/run.py`` starts it and sends one JSON command per line on stdin; each command answers with one
JSON line on stdout (``hold`` with two: once every stream is open, once they have all ended).

    {"op": "run", "target": T, "count": 1000, "concurrency": 4}          requests, split over connections
    {"op": "saturate", "target": T, "seconds": 5, "concurrency": 16}     as many as possible for a while
    {"op": "ttfb", "targets": [T1, T2], "count": 300}                    one at a time, round robin
    {"op": "hold", "target": T, "count": 200}                            that many streams open at once
    {"op": "abort", "target": T}                                         hang up after the first body byte

    T = {"host": "127.0.0.1", "port": 8000, "path": "/v1/messages", "headers": {...}, "body": "..."}
"""

from __future__ import annotations

import asyncio
import json
import queue
import subprocess
import sys
import threading
import time
from typing import Any

import httptools
import uvloop

_ERROR_PREFIX = 300  # bytes of an unexpected answer kept for the report
COMMAND_TIMEOUT = 600.0  # seconds the benchmark waits for one command's answer


def request_bytes(target: dict[str, Any]) -> bytes:
    body: bytes = target["body"].encode()
    head = [f"POST {target['path']} HTTP/1.1", f"host: {target['host']}:{target['port']}"]
    head += [f"{name}: {value}" for name, value in target["headers"].items()]
    head += ["content-type: application/json", f"content-length: {len(body)}", "", ""]
    return "\r\n".join(head).encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive client connection; ``exchange()`` sends a request and waits for the whole answer."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.done: asyncio.Future[int] | None = None
        self.first_body: asyncio.Future[float] | None = None
        self.body_bytes = 0
        self.prefix = b""

    @classmethod
    async def open(cls, target: dict[str, Any]) -> Connection:
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(cls, target["host"], target["port"])
        return connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's TCPTransport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for future in (self.first_body, self.done):
            if future is not None and not future.done():
                future.set_exception(ConnectionError("the server closed the connection"))
                future.exception()  # whoever awaits it still gets the error; nobody else logs it

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.done is not None and not self.done.done():
                self.done.set_exception(exc)
            self.close()

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        if self.first_body is not None and not self.first_body.done():
            self.first_body.set_result(time.perf_counter())
        self.body_bytes += len(body)
        if len(self.prefix) < _ERROR_PREFIX:
            self.prefix += body[:_ERROR_PREFIX]

    def on_message_complete(self) -> None:
        if self.done is not None and not self.done.done():
            self.done.set_result(self.parser.get_status_code())

    def send(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        self.done = loop.create_future()
        self.first_body = loop.create_future()
        self.body_bytes = 0
        self.prefix = b""
        assert self.transport is not None
        self.transport.write(request)

    async def exchange(self, request: bytes) -> tuple[int, float]:
        """Status and seconds to the first body byte."""
        started = time.perf_counter()
        self.send(request)
        assert self.done is not None and self.first_body is not None
        status = await self.done
        first = self.first_body.result() if self.first_body.done() else time.perf_counter()
        if not self.parser.should_keep_alive():
            self.close()
        return status, first - started

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed = True


class Tally:
    """Outcome counts of one command."""

    def __init__(self) -> None:
        self.ok = 0
        self.errors = 0
        self.bytes = 0
        self.first_error = ""

    def record(self, connection: Connection, status: int) -> None:
        self.bytes += connection.body_bytes
        if status == 200:
            self.ok += 1
            return
        self.fail(f"HTTP {status}: {connection.prefix[:_ERROR_PREFIX]!r}")

    def fail(self, reason: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or reason

    def result(self, **extra: Any) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "bytes": self.bytes, "error": self.first_error, **extra}


async def _worker(target: dict[str, Any], request: bytes, tally: Tally, more: Any) -> None:
    """Requests on one connection (reopened when the server closes it) while ``more()`` says so."""
    connection: Connection | None = None
    try:
        while more():
            if connection is None or connection.closed:
                connection = await Connection.open(target)
            try:
                status, _ = await connection.exchange(request)
            except (ConnectionError, httptools.HttpParserError) as exc:
                tally.fail(repr(exc))
                connection.close()
                continue
            tally.record(connection, status)
    finally:
        if connection is not None:
            connection.close()


async def run(target: dict[str, Any], count: int, concurrency: int) -> dict[str, Any]:
    request, tally, left = request_bytes(target), Tally(), [count]

    def more() -> bool:
        left[0] -= 1
        return left[0] >= 0

    started = time.perf_counter()
    await asyncio.gather(*(_worker(target, request, tally, more) for _ in range(min(concurrency, count))))
    return tally.result(wall=time.perf_counter() - started)


async def saturate(target: dict[str, Any], seconds: float, concurrency: int) -> dict[str, Any]:
    request, tally = request_bytes(target), Tally()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(_worker(target, request, tally, lambda: time.perf_counter() < deadline) for _ in range(concurrency))
    )
    return tally.result(wall=time.perf_counter() - started)


async def ttfb(targets: list[dict[str, Any]], count: int) -> dict[str, Any]:
    """Seconds from sending a request to the first body byte, one request at a time, targets in turn."""
    tally = Tally()
    requests = [request_bytes(target) for target in targets]
    connections = [await Connection.open(target) for target in targets]
    samples: list[list[float]] = [[] for _ in targets]
    try:
        for _ in range(count):
            for index, target in enumerate(targets):
                if connections[index].closed:
                    connections[index] = await Connection.open(target)
                status, seconds = await connections[index].exchange(requests[index])
                tally.record(connections[index], status)
                samples[index].append(seconds)
    finally:
        for connection in connections:
            connection.close()
    return tally.result(samples=samples)


async def hold(target: dict[str, Any], count: int, report: Any) -> dict[str, Any]:
    """Open ``count`` streams at once; report when each has its first body byte; wait for them to end."""
    request, tally = request_bytes(target), Tally()
    connections = await asyncio.gather(*(Connection.open(target) for _ in range(count)))
    started = time.perf_counter()
    for connection in connections:
        connection.send(request)
    try:
        await asyncio.gather(*(connection.first_body for connection in connections if connection.first_body))
        report({"opened": count, "wall": time.perf_counter() - started})
        for connection in connections:
            assert connection.done is not None
            try:
                tally.record(connection, await connection.done)
            except (ConnectionError, httptools.HttpParserError) as exc:
                tally.fail(repr(exc))
    finally:
        for connection in connections:
            connection.close()
    return tally.result(wall=time.perf_counter() - started)


async def abort(target: dict[str, Any]) -> dict[str, Any]:
    """Start a stream, hang up (FIN) at its first body byte: ``t0`` is the hang-up's ``time.monotonic()``."""
    connection = await Connection.open(target)
    connection.send(request_bytes(target))
    assert connection.first_body is not None
    await connection.first_body
    t0 = time.monotonic()
    connection.close()
    return {"t0": t0}


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)  # commands carry request bodies (a 64 KB prompt)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def report(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            return
        if op == "run":
            result = await run(command["target"], command["count"], command["concurrency"])
        elif op == "saturate":
            result = await saturate(command["target"], command["seconds"], command["concurrency"])
        elif op == "ttfb":
            result = await ttfb(command["targets"], command["count"])
        elif op == "hold":
            result = await hold(command["target"], command["count"], report)
        elif op == "abort":
            result = await abort(command["target"])
        else:
            result = {"error": f"unknown op {op!r}"}
        report(result)


# --------------------------------------------------------------------------------------------------------
# The benchmark's side


class LoadGenerator:
    """This module in its own process, driven by the benchmark: one JSON command per line."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put("")

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def receive(self) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=COMMAND_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"the load generator gave no answer in {COMMAND_TIMEOUT} s") from None
        if not line:
            raise RuntimeError(f"the load generator exited ({self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def call(self, **command: Any) -> dict[str, Any]:
        self.send(**command)
        return self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            self.send(op="quit")
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


if __name__ == "__main__":
    uvloop.run(serve())
