"""Memory: resident growth while frames stream through the pipeline.

`memory_frames` live frames (consecutive realistic nights, generated night by night so the
input is never all in memory) go through one pipeline in batches of `engine.BATCH_SIZE`.
Resident set size (/proc/self/statm) and Python's allocated blocks are read after a
`gc.collect()` at every tenth of the run. Growth is the slope over the second half of the run
(the first half warms SQLite's page cache, the statement cache and malloc's heap), scaled to
a million frames; the first half's slope is reported beside it. The baseline is the process's
own resident size at the half-way point.

De-duplication keeps no per-event state in memory (the database's keys and a per-batch window
are its memory), so the pipeline's own state (tracker, normalizer, counters: `deep_size`)
must stay flat; it is reported at the warm point and at the end.

The benchmark runs in a fresh interpreter (`python -m bench.memory SCALE`, JSON on stdout):
in the benchmark process, memory freed by the benchmarks before it would be reused first and
hide any growth.

A second, shorter pass runs under `tracemalloc` (slow) on frames generated beforehand (so the
generator's own allocations are not traced): `traced_frames` warm-up frames, then as many
traced. It reports the traced growth of Python allocations and the top allocation sites, to
name a culprit if there is growth.
"""

from __future__ import annotations

from dataclasses import asdict
import gc
from itertools import islice
import json
from pathlib import Path
import subprocess
import sys
import tracemalloc

from bench.common import OPTIONS, SCALES, Row, Scale, Section, deep_size, rss_mb, scratch_dir
from bench.workload import iter_live_frames
from custom_components.nina_session.engine.engine import BATCH_SIZE
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store

_PER_MILLION = 1_000_000


def _state_bytes(pipeline: Pipeline) -> int:
    return deep_size((pipeline.tracker, pipeline.normalizer, pipeline.counters))


def _stream(pipeline: Pipeline, count: int, seed: int, marks: int = 10) -> list[dict[str, float]]:
    """Feed `count` frames; a reading after each of `marks` equal parts (plus one at 0)."""
    frames = iter_live_frames(count, seed=seed)
    readings = [_reading(pipeline, 0)]
    done = 0
    for part in range(1, marks + 1):
        goal = count * part // marks
        while done < goal:
            batch = list(islice(frames, min(BATCH_SIZE, goal - done)))
            pipeline.ingest_frames(batch)
            done += len(batch)
        readings.append(_reading(pipeline, done))
    return readings


def _reading(pipeline: Pipeline, done: int) -> dict[str, float]:
    gc.collect()
    return {
        "frames": done,
        "rss_mb": rss_mb(),
        "blocks": sys.getallocatedblocks(),
        "state_kb": _state_bytes(pipeline) / 1024,
    }


def _traced(path: Path, frames: int) -> tuple[float, list[str]]:
    """MB traced growth over `frames` frames after as many warm-up frames, and top sites."""
    feed = list(iter_live_frames(2 * frames, seed=17))
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    for index in range(0, frames, BATCH_SIZE):
        pipeline.ingest_frames(feed[index : min(index + BATCH_SIZE, frames)])
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for index in range(frames, 2 * frames, BATCH_SIZE):
        pipeline.ingest_frames(feed[index : min(index + BATCH_SIZE, 2 * frames)])
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    store.close()
    stats = after.compare_to(before, "lineno")
    growth = sum(stat.size_diff for stat in stats) / 2**20
    top = [
        f"{stat.size_diff / 1024:+.0f} KiB {stat.traceback[0].filename.rsplit('/', 1)[-1]}"
        f":{stat.traceback[0].lineno}"
        for stat in stats[:3]
    ]
    return growth, top


def run(scale: Scale) -> Section:
    """Measure in a child interpreter, so that nothing run before skews resident memory."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.memory", scale.name],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.memory failed:\n{proc.stderr[-3000:]}")
    data = json.loads(proc.stdout)
    rows = [Row(**row) for row in data["rows"]]
    return Section(data["name"], data["figures"], rows, data["notes"])


def measure(scale: Scale) -> Section:
    """Measure memory growth while frames stream through one pipeline (in this process)."""
    section = Section("memory")
    n = scale.memory_frames
    with scratch_dir("memory") as tmp:
        store = Store(tmp / "memory.db")
        pipeline = Pipeline(store, OPTIONS)
        readings = _stream(pipeline, n, seed=11)
        store.close()
        db_mb = sum(p.stat().st_size for p in tmp.iterdir()) / 2**20
        traced_mb, top = _traced(tmp / "traced.db", scale.traced_frames)

    start, warm, end = readings[0], readings[len(readings) // 2], readings[-1]

    def slope(key: str, a: dict[str, float], b: dict[str, float]) -> float:
        return (b[key] - a[key]) * _PER_MILLION / (b["frames"] - a["frames"])

    growth = slope("rss_mb", warm, end)
    blocks = slope("blocks", warm, end)
    traced = traced_mb * _PER_MILLION / scale.traced_frames
    section.figures.update(
        frames=n,
        growth_mb_per_million=round(growth, 2),
        first_half_growth_mb_per_million=round(slope("rss_mb", start, warm), 2),
        growth_ratio_to_rss=round((end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"], 3),
        rss_mb_warm=round(warm["rss_mb"], 1),
        rss_mb_end=round(end["rss_mb"], 1),
        rss_mb_peak=round(max(r["rss_mb"] for r in readings), 1),
        rss_mb_curve=[round(r["rss_mb"], 1) for r in readings],
        allocated_blocks_growth_per_million=round(blocks),
        pipeline_state_kb_warm=round(warm["state_kb"], 1),
        pipeline_state_kb_end=round(end["state_kb"], 1),
        traced_frames=scale.traced_frames,
        traced_growth_mb_per_million=round(traced, 2),
        traced_top=top,
        db_mb_per_million=round(db_mb * _PER_MILLION / n, 1),
    )
    section.row(
        f"RSS after {n:,} frames vs warm ({warm['frames']:,})",
        f"{end['rss_mb']:.1f} MB ({growth:+.2f} MB/M)",
        f"{warm['rss_mb']:.1f} MB",
        round(end["rss_mb"] / warm["rss_mb"], 3),
    )
    section.row(
        "pipeline state (tracker, normalizer, counters) end vs warm",
        f"{end['state_kb']:.1f} KiB",
        f"{warm['state_kb']:.1f} KiB",
        round(end["state_kb"] / warm["state_kb"], 2) if warm["state_kb"] else None,
    )
    section.row(
        f"tracemalloc growth over {scale.traced_frames:,} frames",
        f"{traced_mb * 1024:+.0f} KiB ({traced:+.2f} MB/M)",
        "",
        None,
    )
    return section


def main(argv: list[str]) -> int:
    """Run `measure` for the scale named in argv and print its Section as JSON."""
    if len(argv) != 1 or argv[0] not in SCALES:
        print(f"usage: python -m bench.memory {{{','.join(SCALES)}}}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(measure(SCALES[argv[0]]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
