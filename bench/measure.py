"""How each figure is measured: one ``Bench`` holds the fake upstream, both servers and the load generator.

docs/performance.md describes every method in prose; the docstrings here say the why of each detail.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from bench import procfs, profiling, report
from bench.load import LoadGenerator
from bench.workloads import (
    HELD,
    HELD_BIG_PROMPT,
    LONG_STREAM,
    SHORT_JSON,
    SHORT_STREAM,
    SPACED_LONG,
    SPACED_SHORT,
    CannedUpstream,
    Workload,
)
from tests.e2e.helpers import Gateway
from tests.fakes.upstream import FakeUpstream

T = TypeVar("T")
GROUPS = ("cpu", "rps", "ttfb", "abort", "memory")
PRIMING_ROUNDS = 2  # memory rounds per kind before the counted ones


@dataclass(frozen=True)
class Sizes:
    """How much of each workload a run uses."""

    rounds: int
    warmup: int
    requests: int  # short streamed / non-streaming requests per CPU figure
    long_requests: int
    spaced_requests: int  # long spaced streams (the short spaced baseline gets 3x as many)
    saturate_seconds: float
    ttfb_requests: int
    aborts: int
    streams: int  # held open at once for the memory figure
    settle: float  # seconds of quiet before reading RSS


FULL = Sizes(3, 3000, 1500, 100, 60, 5.0, 300, 30, 200, 1.0)
QUICK = Sizes(1, 150, 100, 10, 10, 1.0, 30, 5, 100, 0.3)


@dataclass
class Server:
    """A server under test: the gateway or the pass-through."""

    name: str
    process: Gateway

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    def target(self, workload: Workload) -> dict[str, Any]:
        url = urlsplit(self.process.base_url)
        headers = {"x-api-key": self.process.client_key, "anthropic-version": "2023-06-01"}
        return {
            "host": url.hostname,
            "port": url.port,
            "path": "/v1/messages",
            "headers": headers,
            "body": workload.body(),
        }


def checked(result: dict[str, Any], expected: int | None = None) -> dict[str, Any]:
    if result.get("errors") or (expected is not None and result.get("ok") != expected):
        raise RuntimeError(f"requests failed: {result}")
    return result


class Bench:
    """One run: the fake upstream, both servers and the load generator, and the figures measured so far."""

    def __init__(self, args: argparse.Namespace, sizes: Sizes, fake: FakeUpstream, canned: CannedUpstream):
        self.args, self.sizes, self.fake, self.canned = args, sizes, fake, canned
        self.load = LoadGenerator()
        self.servers: list[Server] = []
        self.figures = {
            figure.key: figure
            for figure in report.figures(
                long_deltas=args.long_deltas,
                spaced_deltas=args.spaced_deltas,
                spacing_ms=args.spacing * 1e3,
                prompt_kb=HELD_BIG_PROMPT.prompt_bytes // 1024,
            )
        }
        self.others: list[float] = []  # share of a core other processes used, per measurement
        self.repeated = 0  # measurements taken again because the machine was busy
        self.notes: dict[str, Any] = {}

    # -- plumbing --------------------------------------------------------------------------------------

    def others_share(self, action: Callable[[], T]) -> tuple[T, float]:
        """``action()``, and the share of a core processes other than ours used meanwhile."""
        ours: list[int | str] = [server.pid for server in self.servers]
        ours += [self.load.process.pid, "self"]

        def cpu() -> float:
            return procfs.machine_busy_seconds() - sum(procfs.cpu_seconds(pid) for pid in ours)

        before, started = cpu(), time.monotonic()
        result = action()
        return result, max(0.0, cpu() - before) / (time.monotonic() - started)

    def measure(self, action: Callable[[], T], *figures: str) -> T:
        """``action()`` on a quiet machine where possible: a busy neighbour inflates CPU per request too.

        Waits up to ``--quiet-wait`` s for other processes to use less than ``--max-busy`` of a core, and
        repeats (twice at most) a measurement during which they used more; figures measured busy all the
        same are marked in the table.
        """
        for _ in range(3):
            deadline = time.monotonic() + self.args.quiet_wait
            while time.monotonic() < deadline:
                if self.others_share(lambda: time.sleep(0.25))[1] <= self.args.max_busy:
                    break
            result, share = self.others_share(action)
            self.others.append(share)
            if share <= self.args.max_busy:
                return result
            self.repeated += 1
        for key in figures:
            self.figures[key].busy = True
        return result

    def cpu_per_request(
        self, server: Server, workload: Workload, count: int, concurrency: int, *figures: str
    ) -> float:
        """The server's CPU seconds per request over ``count`` requests on ``concurrency`` connections."""

        def run() -> float:
            before = procfs.cpu_seconds(server.pid)
            result = self.load.call(
                op="run", target=server.target(workload), count=count, concurrency=concurrency
            )
            used = procfs.cpu_seconds(server.pid) - before
            checked(result, count)
            return used / count

        return self.measure(run, *figures) if figures else run()

    def direct_target(self, workload: Workload) -> dict[str, Any]:
        url = urlsplit(self.fake.url)
        path = url.path + "/responses"
        return {"host": url.hostname, "port": url.port, "path": path, "headers": {}, "body": workload.body()}

    # -- phases -----------------------------------------------------------------------------------------

    def check_answers(self, server: Server) -> None:
        """One request of each kind answers what it should, so the figures time real work."""
        headers = {**server.target(SHORT_STREAM)["headers"], "content-type": "application/json"}
        expected = (b"message_stop", b"response.completed")[server.name == "passthrough"]
        url = server.process.base_url + "/v1/messages"
        for workload in (SHORT_STREAM, LONG_STREAM, SPACED_SHORT):
            response = httpx.post(url, content=workload.body(), headers=headers, timeout=30)
            if response.status_code != 200 or expected not in response.content:
                raise RuntimeError(f"{server.name} answered {response.status_code}: {response.text[:500]}")
        response = httpx.post(url, content=SHORT_JSON.body(), headers=headers, timeout=30)
        if response.status_code != 200 or " tok tok" not in response.text:
            raise RuntimeError(f"{server.name} answered {response.status_code}: {response.text[:500]}")

    def warm_up(self, server: Server) -> None:
        """A fresh process is markedly slower for its first thousand requests (imports, caches, pools).

        The short streams go in six blocks; the notes show CPU per request falling block by block.
        """
        count, concurrency = self.sizes.warmup, self.args.saturate_concurrency
        blocks = [
            round(self.cpu_per_request(server, SHORT_STREAM, max(1, count // 6), concurrency) * 1e3, 2)
            for _ in range(6)
        ]
        self.notes[f"{server.name} warm-up, CPU ms per short stream in blocks of {max(1, count // 6)}"] = (
            blocks
        )
        for workload, share in ((SHORT_JSON, 5), (LONG_STREAM, 100)):
            n = max(1, count // share)
            checked(
                self.load.call(op="run", target=server.target(workload), count=n, concurrency=concurrency)
            )

    def cpu_round(self, server: Server) -> None:
        sizes, args, counts = self.sizes, self.args, self.canned.event_counts
        together, spaced = "cpu_event_together", "cpu_event_spaced"
        short = self.cpu_per_request(
            server, SHORT_STREAM, sizes.requests, args.concurrency, "cpu_stream", together
        )
        self.figures["cpu_stream"].add(server.name, short * 1e3)
        plain = self.cpu_per_request(server, SHORT_JSON, sizes.requests, args.concurrency, "cpu_json")
        self.figures["cpu_json"].add(server.name, plain * 1e3)
        long = self.cpu_per_request(server, LONG_STREAM, sizes.long_requests, args.concurrency, together)
        events = counts["bench-long"] - counts["bench-short"]
        self.figures[together].add(server.name, (long - short) / events * 1e6)
        connections = args.spaced_concurrency
        few = self.cpu_per_request(server, SPACED_SHORT, 3 * sizes.spaced_requests, connections, spaced)
        many = self.cpu_per_request(server, SPACED_LONG, sizes.spaced_requests, connections, spaced)
        events = counts["bench-spaced-long"] - counts["bench-spaced-short"]
        self.figures[spaced].add(server.name, (many - few) / events * 1e6)

    def rps_round(self, server: Server) -> None:
        """Streams per second with more connections than one worker can serve at once.

        Also notes each process's CPU share meanwhile: the figure is the server's only if the server used
        a whole core while the load generator and the fake upstream (this process) had what they needed.
        """
        pids: dict[str, int | str] = {
            server.name: server.pid,
            "load generator": self.load.process.pid,
            "fake upstream": "self",
        }

        def saturate() -> tuple[dict[str, Any], dict[str, float]]:
            before = {name: procfs.cpu_seconds(pid) for name, pid in pids.items()}
            result = checked(
                self.load.call(
                    op="saturate",
                    target=server.target(SHORT_STREAM),
                    seconds=self.sizes.saturate_seconds,
                    concurrency=self.args.saturate_concurrency,
                )
            )
            wall = result["wall"]
            return result, {
                name: (procfs.cpu_seconds(pid) - before[name]) / wall for name, pid in pids.items()
            }

        result, shares = self.measure(saturate, "rps")
        self.figures["rps"].add(server.name, result["ok"] / result["wall"])
        for name, share in shares.items():
            self.notes.setdefault(f"CPU share of a core while {server.name} saturated: {name}", []).append(
                round(share, 2)
            )

    def ttfb_round(self) -> None:
        targets = [self.direct_target(SHORT_STREAM)] + [
            server.target(SHORT_STREAM) for server in self.servers
        ]
        result = self.measure(
            lambda: checked(self.load.call(op="ttfb", targets=targets, count=self.sizes.ttfb_requests)),
            "ttfb_added",
        )
        direct, *through = (statistics.median(samples) for samples in result["samples"])
        self.notes.setdefault("direct time to first byte, p50 (ms)", []).append(round(direct * 1e3, 3))
        for server, p50 in zip(self.servers, through, strict=True):
            self.figures["ttfb_added"].add(server.name, (p50 - direct) * 1e3)

    def abort_round(self, server: Server) -> None:
        """Hang up at the first body byte; the fake upstream timestamps when the server's connection closes."""
        self.fake.reset()  # forget earlier disconnects: each abort is paired with the next one recorded
        self.fake.set_default(self.canned)
        delays = []
        for _ in range(self.sizes.aborts):
            t0 = self.load.call(op="abort", target=server.target(HELD))["t0"]
            delays.append(self.fake.wait_for_disconnect(timeout=10.0, since=t0))
            self.fake.wait_for_idle(timeout=10.0)
        self.figures["abort_close"].add(server.name, statistics.median(delays) * 1e3)

    def resting_rss(self, server: Server) -> int:
        time.sleep(self.sizes.settle)
        return int(statistics.median(procfs.rss_kb(server.pid) for _ in range(5)))

    def memory_round(self, server: Server, workload: Workload, figure: str, resting: int) -> tuple[int, int]:
        """RSS (KiB) with ``streams`` streams held open at both ends, then after they all ended."""
        count = self.sizes.streams
        self.load.send(op="hold", target=server.target(workload), count=count)
        opened = self.load.receive()
        if "opened" not in opened:
            raise RuntimeError(f"streams did not open: {opened}")
        time.sleep(self.sizes.settle)
        open_rss = procfs.rss_kb(server.pid)
        self.notes.setdefault(f"{server.name} threads while {count} streams are open", []).append(
            procfs.threads(server.pid)
        )
        self.canned.release.set()
        try:
            checked(self.load.receive(), count)
            self.fake.wait_for_idle(timeout=30.0)
        finally:
            self.canned.release.clear()
        after = self.resting_rss(server)
        self.notes.setdefault(f"{server.name} RSS MiB resting / open / after, {figure}", []).append(
            [round(value / 1024, 1) for value in (resting, open_rss, after)]
        )
        return open_rss, after

    def memory(self, server: Server) -> None:
        """Per stream: RSS with the streams open over the resting RSS, in the steady state.

        Freed memory mostly stays with the process (CPython's and glibc's allocators), and the first few
        times a process holds that many streams its heap also fragments further (the pass-through's RSS
        with 64 KiB prompts grows for three rounds, then stays); so two rounds per kind prime the
        allocator, and every round is compared with the RSS before any stream was held.
        """
        resting = self.resting_rss(server)
        for workload, figure in ((HELD, "mem_stream"), (HELD_BIG_PROMPT, "mem_stream_big")):
            for _ in range(PRIMING_ROUNDS):
                self.memory_round(server, workload, figure + " (priming)", resting)
            for _ in range(self.sizes.rounds):
                open_rss, after = self.memory_round(server, workload, figure, resting)
                self.figures[figure].add(server.name, (open_rss - resting) / self.sizes.streams)
        growth = open_rss - resting
        self.figures["mem_kept"].add(server.name, 100 * (after - resting) / growth if growth > 0 else 0.0)

    def profile(self, server: Server, workload: Workload, title: str, directory: Path) -> str:
        seconds = self.args.profile_seconds
        output = directory / f"{server.name}-{workload.model}-{'stream' if workload.stream else 'json'}.txt"
        sampler = profiling.record(server.pid, seconds, output)
        time.sleep(0.5)  # py-spy attaches
        target = server.target(workload)
        checked(
            self.load.call(op="saturate", target=target, seconds=seconds, concurrency=self.args.concurrency)
        )
        _, errors = sampler.communicate(timeout=seconds + 30)
        if sampler.returncode != 0 or not output.exists():
            raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")
        return profiling.render(f"{server.name}, {title}", profiling.summarise(output))

    # -- the run --------------------------------------------------------------------------------------

    def run(self, groups: set[str]) -> None:
        for server in self.servers:
            self.check_answers(server)
        for server in self.servers:
            started = time.monotonic()
            self.warm_up(server)
            self.notes[f"{server.name} warm-up (s)"] = round(time.monotonic() - started, 1)
        for index in range(self.sizes.rounds):
            order = self.servers if index % 2 == 0 else self.servers[::-1]
            for server in order:
                if "cpu" in groups:
                    self.cpu_round(server)
                if "rps" in groups:
                    self.rps_round(server)
            if "ttfb" in groups:
                self.ttfb_round()
            if "abort" in groups:
                for server in order:
                    self.abort_round(server)
            log(f"round {index + 1} of {self.sizes.rounds} done")
        if "memory" in groups:
            for server in self.servers:
                self.memory(server)
            log("memory done")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
