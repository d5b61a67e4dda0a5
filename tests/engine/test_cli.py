"""The replay and stats CLI, run as users run it (a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys
from typing import Any

from tests.engine.frames import envelope, event, image

ROOT = Path(__file__).parents[2]


def run(*args: str) -> Any:
    """Run the engine CLI with `args` in a subprocess and return its JSON output."""
    done = subprocess.run(
        [sys.executable, "-m", "custom_components.nina_session.engine", *args],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(done.stdout)


def write_recording(path: Path) -> None:
    """Write a JSONL recording: sequence start, an Ha and an OIII frame, a junk line."""
    lines = [
        {"t": "2026-11-24T19:00:00+01:00", "frame": event("SEQUENCE-STARTING")},
        {"t": "2026-11-24T19:05:10+01:00", "frame": image(0)},
        {"t": "2026-11-24T19:10:10+01:00", "frame": image(5, filter_name="OIII")},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\nnot json\n")


def test_replay_prints_sessions_and_is_idempotent(tmp_path: Path) -> None:
    """Test that replay prints the session, and a second replay and stats print the same."""
    recording, db = tmp_path / "night.jsonl", tmp_path / "out.db"
    write_recording(recording)
    first = run("replay", str(recording), "--db", str(db), "--tz", "Europe/Berlin")
    assert [s["frames"]["by_filter"] for s in first["sessions"]] == [
        {"Ha": {"count": 1, "seconds": 300.0}, "OIII": {"count": 1, "seconds": 300.0}}
    ]
    assert first["sessions"][0]["start"] == "2026-11-24T18:00:00Z"
    assert run("replay", str(recording), "--db", str(db)) == first
    assert run("stats", "--db", str(db)) == first


def test_replay_of_saved_history_files_and_legacy_format(tmp_path: Path) -> None:
    """Test replay from saved event and image history files, and stats in the legacy format."""
    history = tmp_path / "events.json"
    images = tmp_path / "images.json"
    history.write_text(json.dumps(envelope([
        {"Event": "SEQUENCE-STARTING", "Time": "2026-11-24T19:00:00+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:05:02+01:00"},
    ])))  # fmt: skip
    images.write_text(json.dumps(envelope([image(0)["Response"]["ImageStatistics"]])))
    db = str(tmp_path / "h.db")
    out = run("replay", "--event-history", str(history), "--image-history", str(images),
              "--db", db, "--tz", "Europe/Berlin")  # fmt: skip
    assert out["sessions"][0]["frames"]["total"] == 1
    legacy = run("stats", "--db", db, "--format", "legacy")
    assert legacy["isActive"] is True
    assert legacy["lastImage"]["filter"] == "Ha"
    assert legacy["connectionStatus"] == "disconnected"
