"""What the kernel accounts for a process, and for the whole machine, read from /proc (Linux only)."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str) -> float:
    """User + system CPU of every thread of ``pid`` ("self": this process) so far (``utime`` + ``stime`` of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


def rss_kb(pid: int) -> int:
    """Resident set size in KiB (``VmRSS``)."""
    return _status(pid, "VmRSS")


def peak_rss_kb(pid: int) -> int:
    """The most resident memory so far, in KiB (``VmHWM``; writing 5 to /proc/<pid>/clear_refs resets it)."""
    return _status(pid, "VmHWM")


def threads(pid: int) -> int:
    return _status(pid, "Threads")


def machine_busy_seconds() -> float:
    """CPU seconds every core has spent on anything but idling since boot (/proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(value) for value in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
