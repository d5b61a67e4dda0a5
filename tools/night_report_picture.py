"""Draw the night report of a simulated night.

    python -m tools.night_report_picture [preset] [out.svg] [--png]

The night is played live through the real pipeline into a scratch store, its session closed by
the idle clock, and its report drawn as the image entity draws it. Deterministic: the same
preset gives the same picture. Without arguments it redraws the README's example, the
`target_scheduler` night, into tools/examples/night_report.svg; `--png` also renders it with
headless Chromium into docs/night-report.png (the picture the README shows).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
import shutil
import subprocess
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


ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SVG = ROOT / "tools" / "examples" / "night_report.svg"
DEFAULT_PNG = ROOT / "docs" / "night-report.png"
#: The SVG's own size (report_svg draws 800 x 480).
PNG_SIZE = (800, 480)


def render_png(svg: Path, png: Path) -> None:
    """Render the SVG at its own size with headless Chromium (Debian's `chromium`)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("--png needs Chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(  # noqa: S603  # a fixed program and arguments
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--hide-scrollbars", f"--user-data-dir={profile}",
                f"--window-size={PNG_SIZE[0]},{PNG_SIZE[1]}",
                f"--screenshot={png.resolve()}", svg.resolve().as_uri(),
            ],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip


def main(argv: list[str]) -> None:
    """Draw the preset's report (and render docs/night-report.png with --png)."""
    png = "--png" in argv
    args = [arg for arg in argv if arg != "--png"]
    name = args[0] if args else "target_scheduler"
    out = Path(args[1]) if len(args) > 1 else DEFAULT_SVG
    out.write_text(picture(name), encoding="utf-8")
    print(out)
    if png:
        render_png(out, DEFAULT_PNG)
        print(DEFAULT_PNG)


if __name__ == "__main__":
    main(sys.argv[1:])
