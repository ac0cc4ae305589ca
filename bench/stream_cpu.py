"""Superseded by ``bench/run.py``, which measures every speed figure beside a bare pass-through proxy.

This name still runs the CPU figures (per short streamed and non-streaming request, per upstream event):

    .venv/bin/python bench/stream_cpu.py [bench/run.py options, e.g. --rounds 5]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import main

if __name__ == "__main__":
    main(["--only", "cpu", *sys.argv[1:]])
