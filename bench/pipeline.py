"""Pipeline throughput: frames/s through `Pipeline.ingest_frames`, against a floor.

Ours: parse → normalize → dedupe → FSM → store, on a fresh database, fed in batches of
`engine.BATCH_SIZE` as the live path does when frames queue up, and one frame per batch as
when they trickle in (one transaction each).

Floor: the unavoidable work for the same frames: `json.loads` of each, then one `executemany`
of one row per frame into the same schema (`store.MIGRATIONS`, same pragmas, all indexes),
storing the frame text as the event data, in one transaction. It does no normalization,
no de-duplication, no session tracking.

Naive: the floor's work with one INSERT and one COMMIT per event, the original system's style
(with our WAL/synchronous=NORMAL pragmas, so commits do not fsync; with the default rollback
journal each commit would be an fsync and far slower).

Candidates take turns (`rounds`, order alternating) and medians are compared. The headline
ratio uses wall time; `ratio_to_floor_cpu` uses this process's CPU time, which is steadier
when other processes compete for the cores.
"""

from __future__ import annotations

from collections.abc import Sequence
import json
from pathlib import Path
import sqlite3

from bench.common import (
    OPTIONS,
    Scale,
    Section,
    Timing,
    fmt_n,
    fmt_s,
    interleaved,
    ratio,
    scratch_dir,
    stopwatch,
)
from bench.workload import Frame, image_save_share, live_frames, stretch
from custom_components.nina_session.engine.engine import BATCH_SIZE
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import EVENTS_TABLE, Store

_INSERT = (
    "INSERT OR IGNORE INTO session_events (event_key, ts, name, source, "
    "session_id, epoch, data, frame) VALUES (?,?,?,?,?,?,?,?)"
)


def ingest(frames: Sequence[Frame], path: Path, batch: int) -> tuple[Timing, Pipeline]:
    """Time to push `frames` through a new pipeline on `path`, `batch` frames at a time."""
    store = Store(path)
    pipeline = Pipeline(store, OPTIONS)
    elapsed = stopwatch()
    for index in range(0, len(frames), batch):
        pipeline.ingest_frames(frames[index : index + batch])
    timing = elapsed()
    store.close()
    return timing, pipeline


def _bare_db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(EVENTS_TABLE)  # the event table and indexes the store writes to
    db.commit()
    return db


def _row(index: int, text: str, frame: Frame) -> tuple[object, ...]:
    message = json.loads(text)
    name = message["Response"]["Event"]
    # Keys like ours (name first, then a unique stamp), so the unique index does equal work.
    key = f"{name}@{index:013d}"
    return (key, frame[1].timestamp(), name, "live", "floor", 0, text, None)


def floor(frames: Sequence[Frame], path: Path) -> Timing:
    """json.loads of every frame, then one executemany in one transaction."""
    db = _bare_db(path)
    elapsed = stopwatch()
    rows = [_row(index, frame[0], frame) for index, frame in enumerate(frames)]
    with db:
        db.executemany(_INSERT, rows)
    timing = elapsed()
    db.close()
    return timing


def naive(frames: Sequence[Frame], path: Path) -> Timing:
    """One json.loads, one INSERT and one COMMIT per event."""
    db = _bare_db(path)
    elapsed = stopwatch()
    for index, frame in enumerate(frames):
        db.execute(_INSERT, _row(index, frame[0], frame))
        db.commit()
    timing = elapsed()
    db.close()
    return timing


def run(scale: Scale) -> Section:
    """Measure pipeline throughput, in batches and frame by frame, against the floor and naive."""
    section = Section("pipeline")
    events = stretch(scale.pipeline_frames)
    frames = live_frames(events)
    few = frames[: scale.pipeline_single_frames]
    checks: list[Pipeline] = []

    with scratch_dir("pipeline") as tmp:
        counter = iter(range(1_000_000))

        def fresh() -> Path:
            return tmp / f"run{next(counter)}.db"

        def batched() -> Timing:
            timing, pipeline = ingest(frames, fresh(), BATCH_SIZE)
            checks.append(pipeline)
            return timing

        def single() -> Timing:
            return ingest(few, fresh(), 1)[0]

        big = interleaved(
            scale.rounds, {"batched": batched, "floor": lambda: floor(frames, fresh())}
        )
        small = interleaved(
            scale.rounds,
            {
                "single": single,
                "naive": lambda: naive(few, fresh()),
                "floor": lambda: floor(few, fresh()),
            },
        )

    n, m = len(frames), len(few)
    counters = checks[-1].counters
    ours, base = big["batched"], big["floor"]
    one, naive_t, few_floor = small["single"], small["naive"], small["floor"]
    to_floor = ratio(ours.wall, base.wall)
    single_to_floor = ratio(one.wall, few_floor.wall)
    naive_to_floor = ratio(naive_t.wall, few_floor.wall)
    # Per-frame cost of one frame per batch over batches of BATCH_SIZE.
    gain = ratio(one.wall / m, ours.wall / n)
    section.figures.update(
        frames=n,
        image_save_share=round(image_save_share(events), 3),
        batch_size=BATCH_SIZE,
        frames_per_s=round(n / ours.wall),
        ratio_to_floor=to_floor,
        ratio_to_floor_cpu=ratio(ours.cpu, base.cpu),
        floor_frames_per_s=round(n / base.wall),
        one_per_batch_frames=m,
        one_per_batch_frames_per_s=round(m / one.wall),
        one_per_batch_ratio_to_floor=single_to_floor,
        naive_frames_per_s=round(m / naive_t.wall),
        naive_ratio_to_floor=naive_to_floor,
        batching_gain=gain,
        processed=counters.processed,
        duplicates=counters.duplicates,
        rejected=counters.rejected,
        rebuilds=checks[-1].rebuilds,
    )
    section.row(
        f"{fmt_n(n)} frames, batches of {BATCH_SIZE} vs floor",
        f"{fmt_s(ours.wall)} ({fmt_n(n / ours.wall)}/s)",
        f"{fmt_s(base.wall)} ({fmt_n(n / base.wall)}/s)",
        to_floor,
    )
    section.row("  same, CPU time", fmt_s(ours.cpu), fmt_s(base.cpu), ratio(ours.cpu, base.cpu))
    section.row(
        f"{fmt_n(m)} frames, 1 per batch vs floor",
        f"{fmt_s(one.wall)} ({fmt_n(m / one.wall)}/s)",
        fmt_s(few_floor.wall),
        single_to_floor,
    )
    section.row(
        f"{fmt_n(m)} frames, naive commit per event vs floor",
        f"{fmt_s(naive_t.wall)} ({fmt_n(m / naive_t.wall)}/s)",
        fmt_s(few_floor.wall),
        naive_to_floor,
    )
    section.row(
        "per frame: 1 per batch vs batched",
        fmt_s(one.wall / m),
        fmt_s(ours.wall / n),
        gain,
    )
    if counters.processed != n:
        section.notes.append(
            f"pipeline processed {counters.processed} of {n} frames "
            f"({counters.duplicates} duplicates, {counters.rejected} rejected)"
        )
    return section
