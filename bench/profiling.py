"""Where a server's CPU goes: py-spy samples the running process, we rank functions by self and total time.

py-spy (a sampling profiler from PyPI, in requirements-dev.txt) attaches to the server from outside, so
the server runs unmodified and the profile costs it little (``--nonblocking``: no pause per sample).
Samples count only non-idle moments, so the shares are shares of the server's CPU time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*):(?P<line>\d+)\)$")
_SITE = re.compile(r".*/(?:site|dist)-packages/")
_REPO = str(Path(__file__).resolve().parent.parent) + "/"
_STDLIB = re.compile(r".*/lib/python3\.\d+/")
# Frames every sample of a thread passes through (process start-up, the loop runner, thread bootstrap):
# left out of the "total" ranking, where they would only fill the top rows.
_ROOTS = re.compile(
    r"\((?:<frozen runpy>|click/|uvicorn/(?:main|server|_compat|__main__)\.py|asyncio/runners\.py"
    r"|threading\.py:(?:988|1028|971|1045)\))"
)


def py_spy() -> str | None:
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(pid: int, seconds: float, output: Path, rate: int = 250) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` into ``output`` (collapsed stacks); wait() on the result."""
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install -r requirements-dev.txt")
    command = [executable, "record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))]
    command += ["--rate", str(rate), "--format", "raw", "--function", "--full-filenames", "--nonblocking"]
    return subprocess.Popen(
        [*command, "--output", str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if match is None:
        return frame
    path = match["path"]
    path = path.removeprefix(_REPO)
    path = _SITE.sub("", path)
    path = _STDLIB.sub("", path)
    return f"{match['function']} ({path}:{match['line']})"


@dataclass
class Profile:
    samples: int = 0
    threads: int = 0  # samples taken in threads other than the event loop's
    own: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)

    def top(self, counter: Counter[str], count: int) -> list[tuple[str, float]]:
        return [(frame, hits / self.samples) for frame, hits in counter.most_common(count)]


def summarise(collapsed: Path) -> Profile:
    """Self and total (inclusive) samples per function, from py-spy's collapsed stacks."""
    profile = Profile()
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        profile.samples += count
        frames = [_short(frame) for frame in stack.split(";")]
        if frames[0].startswith("Thread._bootstrap (threading.py:"):
            profile.threads += count
        profile.own[frames[-1]] += count
        for frame in {frame for frame in frames if not _ROOTS.search(frame)}:
            profile.total[frame] += count
    return profile


def render(title: str, profile: Profile, top: int = 15) -> str:
    if not profile.samples:
        return f"{title}: no samples"
    lines = [
        f"{title}: {profile.samples} samples, {profile.threads / profile.samples:.0%} of them in threads "
        "other than the event loop's"
    ]
    lines += ["  self   function"]
    lines += [f"  {share:5.1%}  {frame}" for frame, share in profile.top(profile.own, top)]
    lines += ["  total  function"]
    lines += [f"  {share:5.1%}  {frame}" for frame, share in profile.top(profile.total, top)]
    return "\n".join(lines)
