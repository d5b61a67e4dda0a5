"""The night report and frame-by-frame quality of simulated nights, against their truth."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.bitmap_font import ASCENT, DESCENT
from custom_components.nina_session.engine.night_report import build_report
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.quality import RejectRules, session_quality
from custom_components.nina_session.engine.raster import hex_colour, text_width
from custom_components.nina_session.engine.report_picture import (
    Text,
    distinct_labels,
    facts_line,
    report_picture,
)
from custom_components.nina_session.engine.report_png import font_scale, report_png
from custom_components.nina_session.engine.report_svg import report_svg
from simulator.night import PRESETS, Night, SimEvent, generate_night
from tests.engine.png_reader import read_png
from tests.engine.test_nights import backfill, epochs, live, open_pipeline
from tests.engine.test_targets import truth

TZ = ZoneInfo("Europe/Berlin")


def played(night: Night, path: Path, *, history: bool = False) -> Pipeline:
    """Play a night (live, or from each NINA process's history) and let the idle clock run."""
    pipeline = open_pipeline(path, night)
    if history:
        for events in epochs(night):
            backfill(pipeline, events)
    else:
        live(pipeline, night.events)
    pipeline.tick(night.events[-1].time + timedelta(hours=3))
    return pipeline


def report_of(pipeline: Pipeline) -> dict[str, Any]:
    """Return the report of the store's only session."""
    (summary,) = pipeline.store.sessions()
    report = build_report(pipeline.store, summary["id"], TZ)
    assert report is not None
    return report


def near(text: str | None, moment: datetime) -> bool:
    """Whether a published time is the moment (published times are whole seconds)."""
    assert text is not None
    return abs(datetime.fromisoformat(text) - moment) < timedelta(seconds=1.5)


@pytest.mark.parametrize("preset", ["full", "target_scheduler"])
def test_report_of_a_night_matches_its_truth(preset: str, tmp_path: Path) -> None:
    """Test per-target integration, states, the unsafe sky, autofocus, flips and errors."""
    night = generate_night(PRESETS[preset])
    pipeline = played(night, tmp_path / "night.db")
    report = report_of(pipeline)

    expected = truth([night])
    assert {t["name"]: {f: s["seconds"] for f, s in t["by_filter"].items()}
            for t in report["targets"]} == {
        name: {f: slot[1] for f, slot in entry["filters"].items()}
        for name, entry in expected.items() if entry["filters"]
    }  # fmt: skip
    history = pipeline.store.sessions()[0]["state_history"]
    assert [(s["state"], s["since"], s["cause"], s["reason"]) for s in report["timeline"]] == [
        (h["state"], h["since"], h["cause"], h["reason"]) for h in history
    ]
    for entry, following in zip(report["timeline"], report["timeline"][1:], strict=False):
        assert entry["until"] == following["since"]
    safety = [e for e in night.events if e.name == "SAFETY-CHANGED" and not e.data["IsSafe"]]
    assert len(report["unsafe"]) == len(safety)
    for period, event in zip(report["unsafe"], safety, strict=True):
        assert near(period["since"], event.time)
    pauses = [s for s in report["timeline"] if s["state"] == "paused"]
    assert report["pauses"] == pauses and len(pauses) == night.truth.pauses
    assert len(report["autofocus"]) == night.truth.autofocus_runs
    assert sum(run["result"] != "ok" for run in report["autofocus"]) == (
        night.truth.autofocus_failed
    )
    assert len(report["meridian_flips"]) == night.truth.meridian_flips
    assert len(report["errors"]) == night.truth.errors
    lights = [e for e in night.events if e.name == "IMAGE-SAVE"
              and e.data["ImageStatistics"]["ImageType"] == "LIGHT"]  # fmt: skip
    assert len(report["quality"]["series"]) == len(lights)
    assert near(report["stopped"]["last_light"], lights[-1].time)


def test_why_the_nights_stopped(tmp_path: Path) -> None:
    """Test the stop reasons: a finished sequence; the sky turning unsafe for good; a pause."""
    full = report_of(played(generate_night(PRESETS["full"]), tmp_path / "full.db"))
    assert full["stopped"]["reason"] == "sequence_finished"
    scheduler = generate_night(PRESETS["target_scheduler"])
    report = report_of(played(scheduler, tmp_path / "ts.db"))
    unsafe = next(
        e for e in scheduler.events if e.name == "SAFETY-CHANGED" and not e.data["IsSafe"]
    )
    assert report["stopped"]["reason"] == "sky_unsafe"
    assert near(report["stopped"]["since"], unsafe.time)
    assert report["unsafe"][-1]["until"] is None
    assert [w["reason"] for w in report["waits"]] == ["scheduler_wait"]
    # The cloud of the full night: paused for exactly the unsafe spell.
    (pause,) = full["pauses"]
    assert (pause["reason"], pause["seconds"]) == ("unsafe", full["unsafe"][0]["seconds"])


def test_a_night_cut_short_by_a_pause(tmp_path: Path) -> None:
    """Test that a night whose guider is lost at the end stopped for that reason."""
    night = generate_night(PRESETS["simple"])
    last_light = max(i for i, e in enumerate(night.events) if e.name == "IMAGE-SAVE")
    events = night.events[: last_light + 1]
    last = events[-1].time
    events.append(SimEvent(last + timedelta(seconds=5), "GUIDER-STOP"))
    pipeline = open_pipeline(tmp_path / "lost.db", night)
    live(pipeline, events)
    pipeline.tick(last + timedelta(hours=3))
    report = report_of(pipeline)
    assert report["stopped"]["reason"] == "guiding_lost"


def test_the_report_is_the_same_backfilled(tmp_path: Path) -> None:
    """Test that a night read from NINA's history gives the report it gave live."""
    night = generate_night(PRESETS["full"])
    seen = report_of(played(night, tmp_path / "live.db"))
    read = report_of(played(night, tmp_path / "history.db", history=True))
    for key in ("targets", "counts", "meridian_flips"):
        assert read[key] == seen[key]
    assert [r["result"] for r in read["autofocus"]] == [r["result"] for r in seen["autofocus"]]
    assert read["stopped"]["reason"] == seen["stopped"]["reason"]
    assert [(s["state"], s["cause"]) for s in read["timeline"]] == [
        (s["state"], s["cause"]) for s in seen["timeline"]
    ]


def _steady(event: SimEvent, **changes: Any) -> SimEvent:
    """Return a light with even quality (HFR 2, 1500 stars, RMS 0.55"), changed by `changes`."""
    stats = {**event.data["ImageStatistics"], "HFR": 2.0, "Stars": 1500,
             "RmsText": 'Tot: 0.60 (0.55")', **changes}  # fmt: skip
    return replace(event, data={**event.data, "ImageStatistics": stats})


def test_quality_flags_the_frames_a_user_would_reject(tmp_path: Path) -> None:
    """Test that soft, starless and badly guided lights are flagged against their filter."""
    night = generate_night(PRESETS["simple"])
    changes: dict[int, dict[str, Any]] = {
        1: {"HFR": 2.6},  # 1.3 x the median: focus drifted
        2: {"Stars": 600},  # 0.4 x the median: clouds
        4: {"RmsText": 'Tot: 2.40 (2.10")'},  # guiding above 1.5"
        5: {"HFR": 2.4},  # 1.2 x: within the rule
    }
    events, index = [], 0
    for event in night.events:
        if event.name == "IMAGE-SAVE" and event.data["ImageStatistics"]["ImageType"] == "LIGHT":
            event = _steady(event, **changes.get(index, {}))
            index += 1
        events.append(event)
    pipeline = open_pipeline(tmp_path / "quality.db", night)
    live(pipeline, events)
    session_id = pipeline.store.sessions()[0]["id"]

    quality = session_quality(pipeline.store, session_id, RejectRules())
    assert quality["rejected"] == {"count": 3, "frames": [1, 2, 4]}
    assert [row["flags"] for row in quality["frames"]] == [
        [],
        ["hfr_high"],
        ["stars_low"],
        [],
        ["rms_high"],
        [],
    ]
    assert quality["medians"]["Ha"] == {"hfr": 2.0, "stars": 1500}
    lights = [e for e in events if e.name == "IMAGE-SAVE"]
    assert [row["adu_mean"] for row in quality["frames"]] == [
        e.data["ImageStatistics"]["Mean"] for e in lights
    ]
    assert [row["temperature"] for row in quality["frames"]] == [
        e.data["ImageStatistics"]["Temperature"] for e in lights
    ]
    strict = session_quality(pipeline.store, session_id, RejectRules(hfr_ratio=1.1))
    assert strict["rejected"]["frames"] == [1, 2, 4, 5]


def test_the_picture_is_svg_with_one_bar_per_filter(tmp_path: Path) -> None:
    """Test the drawn report: valid SVG, a bar per filter, NINA's names escaped."""
    night = generate_night(replace(PRESETS["simple"], targets=("<M 42 & friends>",)))
    report = report_of(played(night, tmp_path / "svg.db"))
    svg = report_svg(report)
    root = ET.fromstring(svg)  # raises on malformed XML, unescaped names included
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"Ha", "OIII"} <= set(texts)
    assert any("<M 42 & friends>" in (text or "") for text in texts)
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert {line.attrib["stroke"] for line in lines} == {"#f5a623", "#4a90e2"}  # HFR and RMS
    hfr = [p for line in lines if line.attrib["stroke"] == "#f5a623"
           for p in line.attrib["points"].split()]  # fmt: skip
    assert len(hfr) == len(report["quality"]["series"])


def test_the_picture_breaks_lines_at_a_wait_and_shades_it(tmp_path: Path) -> None:
    """Test that an hour-long scheduler wait splits the lines and is drawn behind them."""
    night = generate_night(PRESETS["target_scheduler"])
    report = report_of(played(night, tmp_path / "wait.db"))
    (wait,) = report["waits"]
    assert wait["seconds"] > 20 * 60
    root = ET.fromstring(report_svg(report))
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 4  # HFR and RMS, before and after the wait
    shades = [r for r in root.findall("{http://www.w3.org/2000/svg}rect")
              if r.attrib.get("fill") == "#6c7a89"]  # fmt: skip
    assert len(shades) == 1


# The picture's frame, as a reader sees it: bars stand on y=248 across x 48-752.
_BARS_LEFT, _BARS_RIGHT, _BARS_FOOT = 48, 752, 248
_EXPECTED_BAR_COLOURS = {"L": "#d8d8d8", "R": "#e5534b", "G": "#57ab5a", "B": "#539bf5",
                         "Ha": "#c0392b", "OIII": "#1abc9c"}  # fmt: skip


def test_the_png_picture_has_each_filters_bar_in_its_colour(tmp_path: Path) -> None:
    """Test the PNG of a full night: valid, 800x480, dark, a bar per filter where it belongs."""
    night = generate_night(PRESETS["full"])
    report = report_of(played(night, tmp_path / "png.db"))
    png = read_png(report_png(report))
    assert (png.width, png.height) == (800, 480)
    assert png.pixel(2, 2) == hex_colour("#1c1c1e")
    filters = list(dict.fromkeys(f for t in report["targets"] for f in t["by_filter"]))
    assert set(filters) == set(_EXPECTED_BAR_COLOURS)
    slot = (_BARS_RIGHT - _BARS_LEFT) / len(filters)
    for index, name in enumerate(filters):
        middle = round(_BARS_LEFT + (index + 0.5) * slot)
        assert png.pixel(middle, _BARS_FOOT - 3) == hex_colour(_EXPECTED_BAR_COLOURS[name]), name
        # Between two bars there is only the background.
        assert png.pixel(round(_BARS_LEFT + index * slot) + 1, _BARS_FOOT - 3) == png.pixel(2, 2)
    plot = {png.pixel(x, y) for x in range(60, 740) for y in range(312, 428)}
    assert {hex_colour("#f5a623"), hex_colour("#4a90e2")} <= plot  # the HFR and RMS lines


def test_a_frame_alone_between_two_gaps_is_drawn_as_a_dot(tmp_path: Path) -> None:
    """Test that a lone reading shows in both pictures (a one-point line draws nothing)."""
    report = report_of(played(generate_night(PRESETS["simple"]), tmp_path / "dot.db"))
    series = report["quality"]["series"]
    last = datetime.fromisoformat(series[-1]["time"])
    for hours in (1, 2):  # two lone HFR readings, without guiding
        moment = (last + timedelta(hours=hours)).isoformat()
        series.append({**series[0], "time": moment, "guiding_rms": None})
    root = ET.fromstring(report_svg(report))
    dots = root.findall("{http://www.w3.org/2000/svg}circle")
    assert [dot.attrib["fill"] for dot in dots] == ["#f5a623"] * 2
    png = read_png(report_png(report))
    for dot in dots:
        x, y = round(float(dot.attrib["cx"])), round(float(dot.attrib["cy"]))
        assert png.pixel(x, y) == hex_colour("#f5a623")


def test_long_filter_names_keep_to_their_bar(tmp_path: Path) -> None:
    """Test that eight long filter names are told apart in their slots (88 px: 7 characters).

    The words every name shares go, what is left is cut to the slot.
    """
    names = tuple(
        f"Astrodon {band} 3nm" for band in ("Ha", "OIII", "SII", "L", "R", "G", "B", "UV")
    )
    night = generate_night(replace(PRESETS["simple"], filters=names, lights_per_filter=1))
    report = report_of(played(night, tmp_path / "long.db"))
    root = ET.fromstring(report_svg(report))
    texts = {element.text or "" for element in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Ha", "OIII", "SII", "L", "R", "G", "B", "UV"} <= texts
    assert distinct_labels(["Baader Ha 7nm", "Baader OIII 8.5nm"]) == ["Ha 7nm", "OIII 8.5nm"]
    assert distinct_labels(["Ha", "OIII"]) == ["Ha", "OIII"]
    assert distinct_labels(["Filter 1", "Filter"]) == ["Filter 1", "Filter"]
    assert distinct_labels(["Astrodon Ha 3nm"]) == ["Astrodon Ha 3nm"]
    wide = replace(PRESETS["simple"], filters=("Lumimaxiwide", "Redlongername"))
    report = report_of(played(generate_night(wide), tmp_path / "wide.db"))
    texts = {element.text or "" for element in ET.fromstring(report_svg(report)).iter(
        "{http://www.w3.org/2000/svg}text")}  # fmt: skip
    assert {"Lumimaxiwide", "Redlongername"} <= texts  # 2 slots of 352 px: room enough


def test_quality_has_the_last_autofocus_curve(tmp_path: Path) -> None:
    """Test the last autofocus run's points, best point and outcome, as the night sent them."""
    night = generate_night(PRESETS["full"])
    pipeline = played(night, tmp_path / "af.db")
    quality = session_quality(pipeline.store, pipeline.store.sessions()[0]["id"])
    last = max(i for i, e in enumerate(night.events) if e.name == "AUTOFOCUS-STARTING")
    after = night.events[last:]
    points = [e.data for e in after if e.name == "AUTOFOCUS-POINT-ADDED"]
    curve = quality["autofocus"]
    assert [(p["position"], p["hfr"]) for p in curve["points"]] == [
        (p["Position"], p["HFR"]) for p in points
    ]
    assert curve["best"]["hfr"] == min(p["HFR"] for p in points)
    ended = next(e.name for e in after if e.name in ("AUTOFOCUS-FINISHED", "ERROR-AF"))
    assert curve["result"] == ("ok" if ended == "AUTOFOCUS-FINISHED" else "failed")


def test_the_facts_line_counts_in_words() -> None:
    """Test one of a thing in the singular, others in the plural ('1 flip', '2 pauses')."""
    report = {
        "counts": {"autofocus_runs": 1, "meridian_flips": 1, "pauses": 2, "errors": 0},
        "quality": {"rejected": {"count": 1}},
    }
    assert facts_line(report) == "1 autofocus · 1 flip · 2 pauses · 0 errors · 1 flagged"


@pytest.mark.parametrize("preset", ["target_scheduler", "full"])
def test_the_pictures_text_reads_on_a_phone(preset: str, tmp_path: Path) -> None:
    """Test that no text is below the bitmap font at 2x and every line fits in the picture.

    A phone shows the 800 px picture about 400 px wide: 1x text (7 px high) became 3.5 px
    there, which no one reads; at 2x a font pixel is still a whole screen pixel.
    """
    report = report_of(played(generate_night(PRESETS[preset]), tmp_path / "phone.db"))
    picture = report_picture(report)
    texts = [shape for shape in picture.shapes if isinstance(shape, Text)]
    assert len(texts) >= 10
    for text in texts:
        scale = font_scale(text.size)
        assert scale >= 2, text
        width = text_width(text.body, scale, bold=text.bold)
        left = text.x - {"start": 0, "middle": width / 2, "end": width}[text.anchor]
        assert left >= 0 and left + width <= picture.width, text
        assert ASCENT * scale <= text.y <= picture.height - DESCENT * scale, text
    title = next(text for text in texts if text.body.startswith("Night of"))
    assert font_scale(title.size) == 3
    # What stopped the night and its targets are still said, cut to the line if need be.
    assert any(text.body.startswith("Stopped: ") for text in texts)
