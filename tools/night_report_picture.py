"""Draw the night report of a simulated night: `python -m tools.night_report_picture [preset] [out.svg]`.

The night is played live through the real pipeline into a scratch store, its session closed by
the idle clock, and its report drawn as the image entity draws it. Deterministic: the same
preset gives the same picture (the README's example is the `target_scheduler` night).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import sys
import tempfile
from zoneinfo import ZoneInfo

from custom_components.nina_session.engine.night_report import build_report
from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.report_svg import report_svg
from custom_components.nina_session.engine.store import Store
from simulator.night import PRESETS, generate_night, socket_text


def picture(preset: str) -> str:
    """Return the SVG report of the preset night."""
    night = generate_night(PRESETS[preset])
    tz = ZoneInfo(night.spec.tz)
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(Path(scratch) / "night.db")
        pipeline = Pipeline(store, PipelineOptions("rig1", tz))
        delay = timedelta(milliseconds=50)
        pipeline.ingest_frames([(socket_text(e), e.time + delay) for e in night.events])
        pipeline.tick(night.events[-1].time + timedelta(hours=3))
        report = build_report(store, store.sessions(limit=1)[0]["id"], tz)
        store.close()
    assert report is not None
    return report_svg(report)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "target_scheduler"
    out = Path(sys.argv[2] if len(sys.argv) > 2 else f"night-report-{name}.svg")
    out.write_text(picture(name), encoding="utf-8")
    print(out)
