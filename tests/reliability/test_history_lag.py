"""A 57 MB event history, and the hanging-history attack: the loop ticks, memory stays small.

The measurement is `bench/history_lag.py`, run in a fresh interpreter so its peak memory is
this read's alone. Decoded whole (before), the history's raw items were one graph of about
half a million dicts: 530 MB above the process's own size at the peak, and the garbage
collector's full passes over it stalled the loop for 180-500 ms. Item by item, the growth is
about 65 MB (the body as read, and a piece of text) and the loop's longest gap 25-60 ms on a
loaded 2-core machine. The bounds leave room for a busier machine.

The attack: the history request hangs (about 6 MB/s of items for the whole 10 s timeout)
while 200 frames of just under 4 MiB arrive. Bounded by frame count only, the waiting frames
reached 1,749 MB; within the byte budgets (16 MiB of frames waiting during the backfill,
64 MiB of history) the process grows by about 75 MB, refuses the rest, and stays connected.
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MAX_GROWTH_MB = 250
MAX_LAG_MS = 500


MAX_ATTACK_GROWTH_MB = 300


def bench(*args: str) -> dict[str, Any]:
    """Run `python -m bench.history_lag ARGS` in a fresh interpreter; return its figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.history_lag", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def test_a_57_mb_history_keeps_the_loop_ticking_and_memory_small() -> None:
    """Test the loop lag and the peak memory of reading a 57 MB history in a fresh process."""
    figures = bench("57")
    assert figures["read_ok"], figures
    assert figures["history_bytes"] > 55_000_000
    growth = figures["rss_peak_mb"] - figures["rss_before_mb"]
    assert growth < MAX_GROWTH_MB, figures
    assert figures["lag_max_ms"] < MAX_LAG_MS, figures


def test_the_hanging_history_attack_stays_within_the_byte_budgets() -> None:
    """Test peak memory, refusals and the live socket under 200 frames of 4 MiB and a hung read."""
    figures = bench("--attack", "200")
    assert figures["connected_after"] and figures["connections"] == 1, figures
    assert figures["refused"] == figures["frames_sent"], figures  # each over the frame limit
    assert figures["budgets"]["backlog"]["refused"] > 0, figures
    growth = figures["rss_peak_mb"] - figures["rss_before_mb"]
    assert growth < MAX_ATTACK_GROWTH_MB, figures
    assert figures["lag_max_ms"] < MAX_LAG_MS, figures
