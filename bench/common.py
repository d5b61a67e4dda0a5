"""Shared helpers: scales, result rows, timing, memory readings, temporary databases."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
import gc
import os
from pathlib import Path
import shutil
import statistics
import sys
import tempfile
import time
from zoneinfo import ZoneInfo

from custom_components.nina_session.engine.pipeline import PipelineOptions

TZ = ZoneInfo("Europe/Berlin")
OPTIONS = PipelineOptions(instance="rig1", tz=TZ, idle_gap=timedelta(hours=2))

Figure = float | int | str | bool | None | list[float] | list[str]


@dataclass(frozen=True, slots=True)
class Scale:
    """Sizes of one run. `full` is what the README quotes; `quick` fits in a minute."""

    name: str
    rounds: int  # interleaved repetitions of ours vs baseline; medians are compared
    pipeline_frames: int
    pipeline_single_frames: int  # one frame per batch, and the naive commit-per-event variant
    backfill_events: int
    #: Backfills (and downloads) compared: one takes about a second, and its time varies by a
    #: third from run to run on these machines, so a median of three moved the ratio by 0.5.
    backfill_rounds: int
    latency_events: int
    history_nights: int
    history_frames_per_night: int
    history_templates: int  # distinct nights generated through the pipeline, then replicated
    query_repeats: int
    memory_frames: int
    traced_frames: int  # frames under tracemalloc (slow), after as many warm-up frames
    startup_rounds: int
    trickle_frames: int  # one frame per transaction through one session
    trickle_window: int  # frames at each end whose cost per frame is compared


SCALES = {
    "full": Scale(
        name="full",
        rounds=3,
        pipeline_frames=50_000,
        pipeline_single_frames=10_000,
        backfill_events=20_000,
        backfill_rounds=7,
        latency_events=2_000,
        history_nights=365,
        history_frames_per_night=600,
        history_templates=7,
        query_repeats=15,
        memory_frames=1_000_000,
        traced_frames=50_000,
        startup_rounds=9,
        trickle_frames=20_000,
        trickle_window=2_000,
    ),
    "quick": Scale(
        name="quick",
        rounds=2,
        pipeline_frames=10_000,
        pipeline_single_frames=3_000,
        backfill_events=5_000,
        backfill_rounds=3,
        latency_events=500,
        history_nights=365,
        history_frames_per_night=200,
        history_templates=3,
        query_repeats=9,
        memory_frames=100_000,
        traced_frames=10_000,
        startup_rounds=5,
        trickle_frames=8_000,
        trickle_window=1_000,
    ),
    # For the smoke test only: every code path, no meaningful figure.
    "tiny": Scale(
        name="tiny",
        rounds=1,
        pipeline_frames=600,
        pipeline_single_frames=100,
        backfill_events=300,
        backfill_rounds=1,
        latency_events=40,
        history_nights=20,
        history_frames_per_night=40,
        history_templates=2,
        query_repeats=2,
        memory_frames=2_000,
        traced_frames=300,
        startup_rounds=1,
        trickle_frames=300,
        trickle_window=50,
    ),
}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: ours vs the baseline, both absolute, and their ratio."""

    label: str
    ours: str
    baseline: str
    ratio: float | None


@dataclass(slots=True)
class Section:
    """What one benchmark reports: figures for results.json, rows and notes for the table."""

    name: str
    figures: dict[str, Figure] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def row(self, label: str, ours: str, baseline: str, ratio: float | None) -> None:
        """Add a row to the table."""
        self.rows.append(Row(label, ours, baseline, ratio))


# -- timing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """Wall time, and this process's CPU time (steadier when other processes compete)."""

    wall: float
    cpu: float


def stopwatch() -> Callable[[], Timing]:
    """Start timing; call the result to read the time since."""
    wall, cpu = time.perf_counter(), time.process_time()
    return lambda: Timing(time.perf_counter() - wall, time.process_time() - cpu)


def interleaved(rounds: int, candidates: dict[str, Callable[[], Timing]]) -> dict[str, Timing]:
    """Run every candidate `rounds` times, alternating the order; return the medians per name.

    Each candidate returns the time it measured itself (set-up excluded).
    """
    names = list(candidates)
    times: dict[str, list[Timing]] = {name: [] for name in names}
    for index in range(rounds):
        for name in names if index % 2 == 0 else reversed(names):
            gc.collect()
            times[name].append(candidates[name]())
    return {
        name: Timing(
            statistics.median(t.wall for t in values), statistics.median(t.cpu for t in values)
        )
        for name, values in times.items()
    }


#: How long `until` waits for a condition before giving up.
UNTIL_LIMIT = 10.0


async def until(predicate: Callable[[], bool]) -> None:
    """Poll `predicate` every millisecond until it holds; TimeoutError after UNTIL_LIMIT."""
    async with asyncio.timeout(UNTIL_LIMIT):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.001)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of unsorted values."""
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(ours: float, baseline: float) -> float | None:
    """Return ours / baseline rounded to 2 places; None if the baseline is 0."""
    return round(ours / baseline, 2) if baseline > 0 else None


def fmt_s(seconds: float) -> str:
    """Format seconds as s, ms or µs."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_ms(ms: float) -> str:
    """Format milliseconds as s, ms or µs."""
    return fmt_s(ms / 1e3)


def fmt_n(value: float) -> str:
    """Format a count with thousands separators."""
    return f"{value:,.0f}"


# -- memory ------------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc/self/statm)."""
    resident = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
    return resident * _PAGE / 2**20


def deep_size(root: object) -> int:
    """Bytes held by an object graph (containers, dataclasses with or without slots)."""
    seen: set[int] = set()
    stack = [root]
    total = 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset):
            stack.extend(obj)
        if hasattr(obj, "__dict__"):
            stack.append(vars(obj))
        stack.extend(
            getattr(obj, slot) for slot in getattr(type(obj), "__slots__", ()) if hasattr(obj, slot)
        )
    return total


# -- files -------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """Yield a temporary directory on disk (not tmpfs: /var/tmp first); remove it afterwards."""
    base = "/var/tmp" if Path("/var/tmp").is_dir() else None
    path = Path(tempfile.mkdtemp(prefix=f"nina_bench_{prefix}_", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def db_bytes(path: Path) -> int:
    """Return the size of the database file plus its WAL, as `Store.counts()` reports it."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
