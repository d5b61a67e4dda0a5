"""Profile the pipeline's hot path: `python -m bench.profile [--frames N] [--batch N]`.

Runs the pipeline benchmark's input (consecutive realistic nights, live frames) through a
fresh pipeline under cProfile, then prints the time per pipeline stage and the top functions
by own time and by cumulative time. `--mode history` profiles a backfill of the same nights
as the backfill benchmark does it: the event and image history are read over HTTP from the
simulator (not profiled), then parsed and ingested as the engine's writer thread does
(`HistoryRead.parse`, `Pipeline.ingest_history`); `--mode history-again` a second backfill of
it into the same database (all duplicates, as after every reconnect). cProfile roughly doubles run times; compare entries with each other,
not with the benchmark's absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
import cProfile
import io
from pathlib import Path
import pstats
import sys

import aiohttp

from bench.common import OPTIONS, scratch_dir
from bench.pipeline import ingest
from bench.workload import live_frames, stretch
from custom_components.nina_session.engine.client import HistoryRead, NinaClient
from custom_components.nina_session.engine.engine import BATCH_SIZE
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from simulator.night import history_item, image_record
from simulator.server import NinaSimulator

#: (label, file name, function name): cumulative time of each stage of `ingest_frames`.
_ENGINE = "nina_session/engine/"
STAGES = (
    ("parse: wire.parse_socket_frame", "wire.py", "parse_socket_frame"),
    ("parse: HistoryRead.parse (decoding)", "client.py", "parse"),
    ("parse: wire.read_event_history", "wire.py", "read_event_history"),
    ("parse: wire.parse_image_history", "wire.py", "parse_image_history"),
    ("pair: normalize.pair_history_images", "normalize.py", "pair_history_images"),
    ("normalize: Normalizer.normalize_history", "normalize.py", "normalize_history"),
    ("normalize: Normalizer.normalize", "normalize.py", "normalize"),
    ("  normalize.clean_json", "normalize.py", "clean_json"),
    ("  normalize.content_fingerprint", "normalize.py", "content_fingerprint"),
    ("wire.parse_image_record (all callers)", "wire.py", "parse_image_record"),
    ("clock: ClockAlignment.align_history", "clock_alignment.py", "align_history"),
    ("pairing: ClockAlignment.pair_history", "clock_alignment.py", "pair_history"),
    ("dedupe: Deduplicator.unique", "dedup.py", "unique"),
    ("fold: SessionTracker.apply", "sessions.py", "apply"),
    ("summaries: WriteBehind.take", "write_behind.py", "take"),
    ("state: Pipeline._state", "pipeline.py", "_state"),
    ("store: Store.write_batch", "store.py", "write_batch"),
    ("  stored_rows.frame_column", "stored_rows.py", "frame_column"),
    ("  sqlite executemany", "", "<method 'executemany' of 'sqlite3.Connection' objects>"),
    ("  sqlite commit", "", "<method '__exit__' of 'sqlite3.Connection' objects>"),
)


def stage_times(stats: pstats.Stats, total: float) -> list[tuple[str, float, float]]:
    """(label, cumulative seconds, share of `total`) per stage that ran."""
    table: dict[tuple[str, int, str], tuple[int, int, float, float, object]]
    table = stats.stats  # type: ignore[attr-defined]
    rows = []
    for label, file, func in STAGES:
        seconds = sum(
            row[3]
            for (path, _, name), row in table.items()
            if name == func and (not file or path.endswith(_ENGINE + file))
        )
        if seconds:
            rows.append((label, seconds, seconds / total))
    return rows


async def _read_history(frames: int) -> HistoryRead:
    """Serve the nights' history from the simulator and read it as the engine does."""
    events = stretch(frames)
    async with NinaSimulator() as sim, aiohttp.ClientSession() as session:
        sim.history.extend(history_item(event) for event in events)
        sim.images.extend(image_record(e) for e in events if e.name == "IMAGE-SAVE")
        return await NinaClient(session, sim.host, sim.port).read_history()


def _history_run(frames: int, again: bool) -> tuple[cProfile.Profile, float]:
    read = asyncio.run(_read_history(frames))
    profiler = cProfile.Profile()
    with scratch_dir("profile") as tmp:
        store = Store(tmp / "history.db")
        pipeline = Pipeline(store, OPTIONS)
        if again:
            pipeline.ingest_history(*read.parse()[:2])
        profiler.enable()
        # As the engine does: what the last read knew of the history is not decoded again.
        pipeline.ingest_history(*read.parse(pipeline.known_history)[:2])
        profiler.disable()
        store.close()
    return profiler, pstats.Stats(profiler).total_tt  # type: ignore[attr-defined]


def _live_run(frames: int, batch: int) -> tuple[cProfile.Profile, float]:
    feed = live_frames(stretch(frames))
    profiler = cProfile.Profile()
    with scratch_dir("profile") as tmp:
        ingest(feed[: min(2000, len(feed))], tmp / "warm.db", batch)  # imports, caches
        profiler.enable()
        ingest(feed, Path(tmp / "profile.db"), batch)
        profiler.disable()
    return profiler, pstats.Stats(profiler).total_tt  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    """Profile the chosen mode and print the stage times and top functions."""
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--frames", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=BATCH_SIZE, help="frames per batch")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--mode", choices=("live", "history", "history-again"), default="live")
    args = parser.parse_args(argv)
    runs: dict[str, Callable[[], tuple[cProfile.Profile, float]]] = {
        "live": lambda: _live_run(args.frames, args.batch),
        "history": lambda: _history_run(args.frames, again=False),
        "history-again": lambda: _history_run(args.frames, again=True),
    }
    profiler, total = runs[args.mode]()
    what = f"batches of {args.batch}" if args.mode == "live" else args.mode
    print(f"{args.frames:,} events, {what}: {total:.2f} s profiled\n")
    print(f"{'stage (cumulative, nested rows indented)':44} {'seconds':>8} {'share':>6}")
    for label, seconds, share in stage_times(pstats.Stats(profiler), total):
        print(f"{label:44} {seconds:8.3f} {share:6.1%}")
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(args.top)
        body = out.getvalue()
        print(f"\n--- top {args.top} by {order} ---")
        print(body[body.index("   ncalls") :].rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
