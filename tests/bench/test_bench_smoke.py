"""Smoke test of `python -m bench`: it runs on tiny sizes and writes every promised key.

No timing is asserted: the figures of a tiny run mean nothing, and these machines are noisy.
The benchmarks run in a subprocess, as `make bench` runs them (they open 127.0.0.1 sockets).
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]

REQUIRED = {
    "pipeline": ("frames_per_s", "ratio_to_floor", "one_per_batch_ratio_to_floor",
                 "naive_ratio_to_floor", "batching_gain"),
    "trickle": ("frames_per_s", "cost_ratio_late_vs_early", "early_ms_per_frame",
                "frames_per_transaction", "direct_frames_per_s",
                "direct_cost_ratio_late_vs_early"),
    "backfill": ("ratio_to_download", "repeat_ratio_to_download", "events_per_s"),
    "latency": ("p50_ms", "p95_ms", "p99_ms", "raw_p50_ms", "p99_ratio_to_raw", "lost"),
    "history": ("query_ratio_year_vs_night", "db_mb_year", "db_mb_night", "totals_ratio",
                "counts_ratio", "legacy_view_ratio", "stats_view_ratio",
                "totals_first_call_ratio", "bytes_per_event"),
    "memory": ("growth_mb_per_million", "pipeline_state_kb_end", "traced_growth_mb_per_million"),
    "startup": ("setup_ms_nina_down", "setup_ms_nina_up", "setup_ms_nina_hung",
                "bare_sqlite_ms", "ratio_nina_down_to_bare", "waits_for_network"),
}  # fmt: skip


def run_bench(tmp_path: Path, *args: str) -> tuple[dict[str, dict[str, object]], str]:
    """Run `python -m bench --tiny` with `args`; return its results JSON and its table."""
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--out", str(out), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), proc.stdout


def test_only_pipeline_and_history(tmp_path: Path) -> None:
    """Test that --only runs just the named benchmarks and prints the table."""
    results, table = run_bench(tmp_path, "--only", "pipeline,history")
    assert set(results) == {"meta", "pipeline", "history"}
    assert results["meta"]["scale"] == "tiny"
    for name in ("pipeline", "history"):
        missing = [key for key in REQUIRED[name] if key not in results[name]]
        assert not missing, f"{name}: {missing}"
    assert results["pipeline"]["processed"] == results["pipeline"]["frames"]
    assert "ratio" in table.splitlines()[2]


def test_every_benchmark_writes_its_keys(tmp_path: Path) -> None:
    """Test that every benchmark writes its promised keys; none loses events or waits for NINA."""
    results, _ = run_bench(tmp_path)
    for name, keys in REQUIRED.items():
        missing = [key for key in keys if results[name].get(key) is None]
        assert not missing, f"{name}: {missing}"
    assert results["latency"]["lost"] == 0
    assert results["trickle"]["processed"] == results["trickle"]["frames"]  # over the socket
    assert results["startup"]["waits_for_network"] is False


def test_unknown_benchmark_is_refused(tmp_path: Path) -> None:
    """Test that an unknown benchmark name is a usage error (exit 2)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--only", "nope", "--out", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "unknown benchmark" in proc.stderr
