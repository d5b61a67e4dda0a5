"""Write `schema2.db` with the code of commit bf978d5 (the last one with schema 2).

    git archive bf978d5 custom_components simulator | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old:. .venv/bin/python tests/engine/data/make_schema2.py tests/engine/data/schema2.db

Three generated nights: two live (closed), then half of one read from NINA's history (sparse
frames paired with image records), left open.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import sqlite3
import sys
from typing import Any
from zoneinfo import ZoneInfo

from bench.workload import live_frames, nights
from custom_components.nina_session.engine import store as store_module
from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store
from simulator.night import history_item, image_record


def _envelope(items: list[Any]) -> dict[str, Any]:
    return {"Response": items, "Error": "", "StatusCode": 200, "Success": True, "Type": "API"}


def main(out: Path) -> None:
    """Write the file."""
    write(out, 2, "bf978d5")


def write(out: Path, schema: int, commit: str) -> None:
    """Write the three nights with the code on the path, which must write `schema`."""
    assert schema == store_module.SCHEMA_VERSION, f"run it with the code of commit {commit}"
    out.unlink(missing_ok=True)
    tz = ZoneInfo("Europe/Berlin")
    store = Store(out)
    pipeline = Pipeline(store, PipelineOptions("rig1", tz, idle_gap=timedelta(hours=2)))
    first, second, third = nights(3, seed=23, lights=40)
    for night in (first, second):
        frames = live_frames(night.events)
        for index in range(0, len(frames), 50):
            pipeline.ingest_frames(frames[index : index + 50])
    half = third.events[: len(third.events) // 2]
    pipeline.ingest_history(
        _envelope([history_item(event) for event in half]),
        _envelope([image_record(event) for event in half if event.name == "IMAGE-SAVE"]),
    )
    store.close()
    with sqlite3.connect(out) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    with sqlite3.connect(out) as db:
        db.execute("VACUUM")
    db.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
