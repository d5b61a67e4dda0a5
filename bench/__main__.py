"""`python -m bench [--quick] [--only pipeline,history] [--out bench/results.json]`.

Runs the benchmarks, prints a table (ours, the baseline measured in the same run, their
ratio) and writes every figure to a JSON file, one object per benchmark:
`{"meta": {...}, "pipeline": {"frames_per_s": ..., "ratio_to_floor": ...}, ...}`.
Last, `ha_latency` runs bench/ha_latency_test.py under pytest in a subprocess (it needs the
Home Assistant test harness); it merges its figures into the same file as `latency_ha`.
With --tiny it runs only when --only names it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
import importlib
import json
import logging
import os
from pathlib import Path
import platform
import sqlite3
import subprocess
import sys
import time
from typing import Any

from bench.common import SCALES, Scale, Section

BENCHMARKS = ("pipeline", "trickle", "backfill", "latency", "history", "memory", "startup")
HA_LATENCY = "ha_latency"  # not a `run(scale)` module: a pytest module, run in a subprocess
HA_LATENCY_MODULE = Path(__file__).resolve().parent / "ha_latency_test.py"
DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[2])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes, under a minute")
    size.add_argument("--tiny", action="store_true", help="smallest sizes (smoke tests only)")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {', '.join((*BENCHMARKS, HA_LATENCY))}",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON path")
    args = parser.parse_args(argv)
    named = [name.strip() for name in args.only.split(",") if name.strip()]
    chosen = named or [*BENCHMARKS, HA_LATENCY]
    unknown = sorted(set(chosen) - {*BENCHMARKS, HA_LATENCY})
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    args.chosen = [name for name in BENCHMARKS if name in chosen]
    # The HA harness takes seconds to start: the tiny smoke runs skip it unless asked for.
    args.ha_latency = HA_LATENCY in chosen and (not args.tiny or HA_LATENCY in named)
    return args


def run_ha_latency(out: Path, *, quick: bool) -> int:
    """Run bench/ha_latency_test.py under pytest and return pytest's exit code.

    The test prints its figures and merges them into `out` as `latency_ha`.
    """
    env = {**os.environ, "NINA_BENCH_OUT": str(out.resolve())}
    env.pop("NINA_BENCH_QUICK", None)
    if quick:
        env["NINA_BENCH_QUICK"] = "1"
    command = [sys.executable, "-m", "pytest", str(HA_LATENCY_MODULE), "-q", "-s"]
    command += ["-p", "no:cacheprovider"]
    return subprocess.run(
        command, cwd=HA_LATENCY_MODULE.parents[1], env=env, check=False
    ).returncode


def _meta(scale: Scale) -> dict[str, Any]:
    return {
        "scale": scale.name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
        "note": "ratios compare against a baseline measured in the same run; absolute "
        "times are for information only",
    }


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:g}x"


def table(sections: list[Section], meta: dict[str, Any]) -> str:
    """Return the results table: one line per row of every section, then the notes."""
    lines = [
        f"nina_session benchmarks ({meta['scale']}) - Python {meta['python']}, "
        f"SQLite {meta['sqlite']}, {meta['cpus']} CPUs, load average {meta['loadavg_1min']}",
        "",
    ]
    rows = [("benchmark", "measurement", "ours", "baseline", "ratio")]
    for section in sections:
        rows.extend(
            (section.name, row.label, row.ours, row.baseline, _cell(row.ratio))
            for row in section.rows
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for index, row in enumerate(rows):
        lines.append(
            "  ".join(
                cell.rjust(width) if column >= 2 else cell.ljust(width)
                for column, (cell, width) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    notes = [f"{section.name}: {note}" for section in sections for note in section.notes]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks, print the table and write the results JSON."""
    args = _parse(argv)
    scale = SCALES["quick" if args.quick else "tiny" if args.tiny else "full"]
    # The engine logs connection trouble on purpose (NINA down is part of the benchmark).
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("custom_components.nina_session").setLevel(logging.CRITICAL)
    results: dict[str, Any] = {"meta": _meta(scale)}
    sections: list[Section] = []
    begin = time.perf_counter()
    for name in args.chosen:
        print(f"[bench] {name} ({scale.name}) ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        run: Callable[[Scale], Section] = importlib.import_module(f"bench.{name}").run
        section = run(scale)
        section.figures["bench_seconds"] = round(time.perf_counter() - started, 1)
        sections.append(section)
        results[name] = section.figures
    if sections:
        results["meta"]["total_seconds"] = round(time.perf_counter() - begin, 1)
        results["meta"]["loadavg_1min_end"] = round(os.getloadavg()[0], 2)
        print(table(sections, results["meta"]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out} in {results['meta']['total_seconds']} s", file=sys.stderr)
    if args.ha_latency:
        print(f"[bench] {HA_LATENCY} ({scale.name}) ...", file=sys.stderr, flush=True)
        code = run_ha_latency(args.out, quick=scale.name != "full")
        if code:
            print(f"[bench] {HA_LATENCY} failed (pytest exit {code})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
