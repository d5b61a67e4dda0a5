"""A 57 MB event history is read item by item: the loop keeps ticking, memory stays small.

The measurement is `bench/history_lag.py`, run in a fresh interpreter so its peak memory is
this read's alone. Decoded whole (before), the history's raw items were one graph of about
half a million dicts: 530 MB above the process's own size at the peak, and the garbage
collector's full passes over it stalled the loop for 180-500 ms. Item by item, the growth is
about 65 MB (the body as read, and a piece of text) and the loop's longest gap 25-60 ms on a
loaded 2-core machine. The bounds leave room for a busier machine.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]
MAX_GROWTH_MB = 250
MAX_LAG_MS = 500


def test_a_57_mb_history_keeps_the_loop_ticking_and_memory_small() -> None:
    """Test the loop lag and the peak memory of reading a 57 MB history in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.history_lag", "57"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["read_ok"], figures
    assert figures["history_bytes"] > 55_000_000
    growth = figures["ru_maxrss_mb"] - figures["rss_before_mb"]
    assert growth < MAX_GROWTH_MB, figures
    assert figures["lag_max_ms"] < MAX_LAG_MS, figures
