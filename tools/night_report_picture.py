"""Draw the night report of a simulated night.

    python -m tools.night_report_picture [preset] [out.svg|out.png] [--png]

The night is played live through the real pipeline into a scratch store, its session closed by
the idle clock, and its report drawn as the image entity draws it. Deterministic: the same
preset gives the same picture. Without arguments it redraws the README's example, the
`target_scheduler` night, into tools/examples/night_report.svg; an output ending in .png gets
the PNG the image entity serves; `--png` also writes that PNG into docs/night-report.png (the
picture the README shows). No browser is needed: the PNG is drawn by engine/report_png.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
import sys
import tempfile
import time
from typing import Any
from zoneinfo import ZoneInfo

from custom_components.nina_session.engine.night_report import build_report
from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.report_png import report_png
from custom_components.nina_session.engine.report_svg import report_svg
from custom_components.nina_session.engine.store import Store
from simulator.night import PRESETS, generate_night, socket_text


def night_report(preset: str) -> dict[str, Any]:
    """Return the report of the preset night, played through the real pipeline."""
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
    return report


def timed_png(report: Mapping[str, Any]) -> bytes:
    """Draw the PNG and say how long it took (the image entity draws it off the event loop)."""
    started = time.perf_counter()
    png = report_png(report)
    print(f"PNG drawn in {(time.perf_counter() - started) * 1000:.0f} ms, {len(png)} bytes")
    return png


ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SVG = ROOT / "tools" / "examples" / "night_report.svg"
DEFAULT_PNG = ROOT / "docs" / "night-report.png"


def main(argv: list[str]) -> None:
    """Draw the preset's report (and docs/night-report.png with --png)."""
    png = "--png" in argv
    args = [arg for arg in argv if arg != "--png"]
    name = args[0] if args else "target_scheduler"
    out = Path(args[1]) if len(args) > 1 else DEFAULT_SVG
    report = night_report(name)
    if out.suffix == ".png":
        out.write_bytes(timed_png(report))
    else:
        out.write_text(report_svg(report), encoding="utf-8")
    print(out)
    if png:
        DEFAULT_PNG.write_bytes(timed_png(report))
        print(DEFAULT_PNG)


if __name__ == "__main__":
    main(sys.argv[1:])
