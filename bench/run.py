"""The gateway beside a bare pass-through proxy: every speed figure of issue 12, for both, in one run.

    .venv/bin/python bench/run.py            # the full benchmark (about 5 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # every figure from tiny samples, to see that it works

Starts the test tree's fake Responses-API upstream (in this process), the real gateway under uvicorn on a
fresh data dir with a client key, and beside it ``bench/passthrough.py`` (uvicorn + starlette + httpx,
translating nothing), each one worker; and ``bench/load.py``, the load generator, in a process of its own.
Warms both servers up, measures every figure for both in alternating rounds, and prints medians, spreads
and ratios with the issue's targets. CPU is each server's own utime + stime from /proc, over many
requests; memory is its RSS. docs/performance.md says how each figure is measured and what it means.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import procfs, report
from bench.measure import FULL, GROUPS, QUICK, Bench, Server, Sizes, log
from bench.workloads import LONG_STREAM, SHORT_JSON, SHORT_STREAM, SPACED_LONG, CannedUpstream
from tests.e2e.helpers import Gateway, gateway_env, launch_gateway, start_gateway
from tests.fakes.upstream import FakeUpstream


def pin(bench: Bench) -> None:
    """Servers on the last core; this process (the fake upstream) and the load generator on the rest."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        raise RuntimeError("--pin needs at least two cores")
    placement = {server.pid: {cores[-1]} for server in bench.servers}
    placement.update({os.getpid(): set(cores[:-1]), bench.load.process.pid: set(cores[:-1])})
    for pid, allowed in placement.items():
        for task in Path(f"/proc/{pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), allowed)


def start_passthrough(data_dir: Path, upstream_url: str) -> Gateway:
    upstream_key = "sk-bench-passthrough"
    env = gateway_env(data_dir=data_dir, upstream_url=upstream_url, upstream_key=upstream_key)
    return start_gateway(
        "passthrough",
        env=env,
        client_key="",
        upstream_key=upstream_key,
        data_dir=data_dir,
        log_path=data_dir / "passthrough.log",
        app="bench.passthrough:app",
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny samples, one round: a smoke run")
    parser.add_argument("--rounds", type=int, help="measurements per figure and server (full: 3)")
    parser.add_argument("--warmup", type=int, help="short streams per server before measuring (full: 3000)")
    parser.add_argument("--requests", type=int, help="requests per short CPU figure (full: 1500)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated subset of {GROUPS}")
    parser.add_argument("--concurrency", type=int, default=4, help="connections for the CPU figures")
    parser.add_argument("--spaced-concurrency", type=int, default=10, help="connections, spaced streams")
    parser.add_argument("--saturate-concurrency", type=int, default=16, help="connections when saturating")
    parser.add_argument("--long-deltas", type=int, default=1000, help="deltas arriving together")
    parser.add_argument("--spaced-deltas", type=int, default=200, help="deltas each in its own read")
    parser.add_argument("--spacing", type=float, default=0.002, help="seconds between spaced events")
    parser.add_argument(
        "--max-busy",
        type=float,
        default=0.2,
        help="share of a core other processes may use during a measurement before it is taken again",
    )
    parser.add_argument(
        "--quiet-wait", type=float, default=30.0, help="longest wait for a quiet machine before a measurement"
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="servers on the last core, load generator and fake upstream on the others",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout of this repository (git worktree add DIR COMMIT): its gateway is measured "
        "in the same rounds, and the table adds gateway / baseline",
    )
    parser.add_argument("--json", type=Path, help="also write every sample and median to this file")
    parser.add_argument("--profile", type=Path, help="then profile the gateway with py-spy into this dir")
    parser.add_argument("--profile-seconds", type=float, default=10.0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    base = QUICK if args.quick else FULL
    sizes = Sizes(
        rounds=args.rounds or base.rounds,
        warmup=base.warmup if args.warmup is None else args.warmup,
        requests=args.requests or base.requests,
        **{
            name: getattr(base, name)
            for name in (
                "long_requests",
                "spaced_requests",
                "saturate_seconds",
                "ttfb_requests",
                "aborts",
                "streams",
                "settle",
            )
        },
    )
    if args.quick:
        args.max_busy, args.quiet_wait = float("inf"), 0.0  # a smoke run measures whatever the machine does
    groups = set(args.only.split(",")) & set(GROUPS)
    canned = CannedUpstream(
        long_deltas=args.long_deltas, spaced_deltas=args.spaced_deltas, spacing=args.spacing
    )
    started = time.monotonic()
    load_before = procfs.load_average()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, FakeUpstream() as fake:
        fake.set_default(canned)
        bench = Bench(args, sizes, fake, canned)
        try:
            gateway = launch_gateway(
                "gateway", data_dir=Path(tmp), upstream_url=fake.url, extra={"LOG_LEVEL": "WARNING"}
            )
            bench.servers.append(Server("gateway", gateway))
            bench.servers.append(Server("passthrough", start_passthrough(Path(tmp), fake.url)))
            if args.baseline:
                data_dir = Path(tmp) / "baseline"
                data_dir.mkdir()
                baseline = launch_gateway(
                    "baseline",
                    data_dir=data_dir,
                    upstream_url=fake.url,
                    extra={"LOG_LEVEL": "WARNING"},
                    cwd=args.baseline.resolve(),
                )
                bench.servers.append(Server("baseline", baseline))
            if args.pin:
                pin(bench)
            log(f"servers up; load average {load_before}")
            bench.run(groups)
            profiles = []
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                server = bench.servers[0]
                profiles.append(bench.profile(server, SHORT_STREAM, "short streams", args.profile))
                profiles.append(bench.profile(server, SHORT_JSON, "non-streaming requests", args.profile))
                profiles.append(bench.profile(server, LONG_STREAM, "events arriving together", args.profile))
                profiles.append(bench.profile(server, SPACED_LONG, "events in their own reads", args.profile))
        finally:
            bench.load.close()
            for server in bench.servers:
                server.process.stop()
    elapsed = time.monotonic() - started
    rows = [bench.figures[key] for key in bench.figures if _group(key) in groups]
    print(report.table(rows))
    if any(figure.busy for figure in rows):
        print(
            f"* measured while other processes used over {args.max_busy:.0%} of a core, even when taken again"
        )
    print()
    others = bench.others or [0.0]
    print(
        f"{sizes.rounds} rounds in {elapsed:.0f} s. Other processes used a median {statistics.median(others):.0%} "
        f"(at most {max(others):.0%}) of a core during the {len(bench.others)} measurements; "
        f"{bench.repeated} taken again because of them. Load average before: {load_before}."
    )
    for name, value in bench.notes.items():
        print(f"  {name}: {value}")
    for text in profiles:
        print()
        print(text)
    if args.json:
        data = {
            "sizes": sizes.__dict__,
            "args": {key: str(value) for key, value in vars(args).items()},
            "elapsed_seconds": elapsed,
            "load_average_before": load_before,
            "other_processes_core_share": bench.others,
            "repeated_measurements": bench.repeated,
            "notes": bench.notes,
            "figures": {figure.key: figure.as_dict() for figure in rows},
            "profiles": profiles,
        }
        args.json.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _group(key: str) -> str:
    prefix = key.split("_", 1)[0]
    return {"ttfb": "ttfb", "abort": "abort", "mem": "memory", "rps": "rps"}.get(prefix, "cpu")


if __name__ == "__main__":
    main()
