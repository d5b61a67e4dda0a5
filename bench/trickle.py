"""Trickle: one frame per transaction through one long session, early cost vs late cost.

A quiet live stream hands the pipeline one frame at a time (the engine's drain finds one frame
queued), so each frame is its own transaction. What such a transaction writes must not grow
with the session: a night of 20,000 frames must cost per frame at its end what it cost at its
start. Ours: `Pipeline.ingest_frames` with one frame per call, through one session of
`trickle_frames` events spread over ten hours (generated nights squeezed together, so it
stays one session and gathers a long state history). Measured: frames/s over the whole run, and the cost per frame
over the last `trickle_window` frames divided by the cost over the first `trickle_window`.
"""

from __future__ import annotations

from datetime import timedelta
import time

from bench.common import OPTIONS, Scale, Section, fmt_n, fmt_s, ratio, scratch_dir
from bench.workload import Frame, live_frame, stretch
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from simulator.night import SimEvent

#: How long the session lasts: its events are spread evenly over this.
SESSION = timedelta(hours=10)


def session_frames(count: int) -> list[Frame]:
    """`count` live frames spread evenly over `SESSION`, in order, as one session.

    The events of consecutive generated nights (autofocus runs, flips, pauses, flats: the
    state changes a long session accumulates), squeezed into one ten-hour stretch, so no
    idle gap or night boundary splits it.
    """
    events = stretch(count, seed=17)
    start = events[0].time
    step = SESSION / count
    spread = [SimEvent(start + step * i, e.name, e.data) for i, e in enumerate(events)]
    return [live_frame(event) for event in spread]


def run(scale: Scale) -> Section:
    """Measure one frame per transaction through one long session."""
    section = Section("trickle")
    frames = session_frames(scale.trickle_frames)
    window = scale.trickle_window
    costs: list[float] = []
    cpu: list[float] = []  # this process's CPU time: steadier when other processes compete
    with scratch_dir("trickle") as tmp:
        store = Store(tmp / "trickle.db")
        pipeline = Pipeline(store, OPTIONS)
        for frame in frames:
            start, start_cpu = time.perf_counter(), time.process_time()
            pipeline.ingest_frames([frame])
            costs.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        sessions = store.counts()["sessions"]
        store.close()
    n = len(frames)
    total = sum(costs)
    early = sum(costs[:window]) / window
    late = sum(costs[-window:]) / window
    late_vs_early = ratio(late, early)
    late_vs_early_cpu = ratio(sum(cpu[-window:]), sum(cpu[:window]))
    section.figures.update(
        frames=n,
        window=window,
        sessions=sessions,
        frames_per_s=round(n / total),
        early_ms_per_frame=round(early * 1e3, 3),
        late_ms_per_frame=round(late * 1e3, 3),
        cost_ratio_late_vs_early=late_vs_early,
        cost_ratio_late_vs_early_cpu=late_vs_early_cpu,
        processed=pipeline.counters.processed,
    )
    section.row(
        f"{fmt_n(n)} frames, 1 per transaction, one session",
        f"{fmt_s(total)} ({fmt_n(n / total)}/s)",
        "",
        None,
    )
    section.row(
        f"per frame: last {fmt_n(window)} vs first {fmt_n(window)}",
        fmt_s(late),
        fmt_s(early),
        late_vs_early,
    )
    section.row("  same, CPU time", "", "", late_vs_early_cpu)
    if sessions != 1:
        section.notes.append(f"the stream made {sessions} sessions, not one")
    return section
