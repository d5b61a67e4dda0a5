"""The night report's layout: integration per filter, and HFR and guiding RMS over the night.

Computed once into a list of shapes (rectangles, polylines, circles, text) in an 800 x 480
frame; `report_svg` writes them as SVG text and `report_png` paints them on a raster canvas,
so both pictures show the same thing in the same place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .night_report import notification_text

WIDTH, HEIGHT = 800, 480
BACKGROUND, INK, MUTED = "#1c1c1e", "#e8e8e8", "#b0b0b0"
_PAD = 48
_BARS_TOP, _BARS_HEIGHT = 115, 130
_PLOT_TOP, _PLOT_HEIGHT = 305, 140
HFR_COLOUR, RMS_COLOUR = "#f5a623", "#4a90e2"
#: Seconds without a frame that break the HFR and RMS lines.
_GAP = 20 * 60
SPELL_COLOURS = {"paused": "#e5534b", "waiting": "#6c7a89"}
_SPELL_OPACITY = 0.2
_NEUTRAL_FILTER = "#9aa0a6"
#: Pixels per character of a 13 px label (the bitmap font takes 6): long filter names are
#: cut to their bar's slot instead of running into the next one's.
_LABEL_CHAR_WIDTH = 7
# Common filter colours; others take a neutral one.
_FILTER_COLOURS = {"L": "#d8d8d8", "R": "#e5534b", "G": "#57ab5a", "B": "#539bf5",
                   "HA": "#c0392b", "H": "#c0392b", "OIII": "#1abc9c", "O": "#1abc9c",
                   "SII": "#8e44ad", "S": "#8e44ad"}  # fmt: skip

type Anchor = Literal["start", "middle", "end"]


@dataclass(frozen=True, slots=True)
class Rect:
    """A rectangle: filled, outlined (`fill` None), translucent or with rounded corners."""

    x: float
    y: float
    width: float
    height: float
    fill: str | None
    stroke: str | None = None
    radius: float = 0.0
    opacity: float = 1.0


@dataclass(frozen=True, slots=True)
class Polyline:
    """Connected line segments."""

    points: tuple[tuple[float, float], ...]
    colour: str
    width: float = 2.0


@dataclass(frozen=True, slots=True)
class Circle:
    """A filled dot."""

    cx: float
    cy: float
    radius: float
    colour: str


@dataclass(frozen=True, slots=True)
class Text:
    """One line of text; `y` is its baseline, `colour` None takes the picture's ink."""

    x: float
    y: float
    body: str
    size: int = 13
    anchor: Anchor = "start"
    colour: str | None = None
    bold: bool = False


type Shape = Rect | Polyline | Circle | Text


@dataclass(slots=True)
class Picture:
    """A drawing: its size, background, default text colour and shapes, back to front."""

    width: int
    height: int
    background: str
    ink: str
    shapes: list[Shape] = field(default_factory=list)


def filter_colour(name: str) -> str:
    """Return the bar colour of a filter (common names by their usual colour)."""
    return _FILTER_COLOURS.get(name.upper(), _NEUTRAL_FILTER)


def filter_seconds(report: Mapping[str, Any]) -> dict[str, float]:
    """Return the light seconds per filter over all the night's targets, in report order."""
    seconds: dict[str, float] = {}
    for target in report["targets"]:
        for name, slot in target["by_filter"].items():
            seconds[name] = seconds.get(name, 0.0) + slot["seconds"]
    return seconds


def bar_slots(count: int) -> tuple[float, float]:
    """Return the slot width and the bar width for `count` bars across the picture."""
    slot_width = (WIDTH - 2 * _PAD) / count
    return slot_width, float(min(slot_width * 0.6, 90))


def _bars(report: Mapping[str, Any]) -> list[Shape]:
    seconds = filter_seconds(report)
    shapes: list[Shape] = [
        Text(_PAD, _BARS_TOP - 24, "Integration per filter (min)", 14, bold=True)
    ]
    if not seconds:
        return [*shapes, Text(_PAD, _BARS_TOP + 30, "No light frames")]
    top = max(seconds.values()) or 1.0
    slot_width, bar_width = bar_slots(len(seconds))
    for index, (name, value) in enumerate(seconds.items()):
        height = _BARS_HEIGHT * value / top
        x = _PAD + index * slot_width + (slot_width - bar_width) / 2
        y = _BARS_TOP + _BARS_HEIGHT - height
        shapes.append(Rect(x, y, bar_width, height, filter_colour(name), radius=3))
        shapes.append(Text(x + bar_width / 2, y - 4, f"{value / 60:.0f}", 12, "middle"))
        label = _shorten(name, int(slot_width // _LABEL_CHAR_WIDTH))
        shapes.append(Text(x + bar_width / 2, _BARS_TOP + _BARS_HEIGHT + 16, label, 13, "middle"))
    return shapes


def _runs(readings: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split readings where no frame came for `_GAP` seconds: a line across a wait would lie."""
    runs: list[list[tuple[float, float]]] = []
    for moment, value in readings:
        if not runs or moment - runs[-1][-1][0] > _GAP:
            runs.append([])
        runs[-1].append((moment, value))
    return runs


def _line(points: Sequence[tuple[float, float]], low: float, high: float, colour: str) -> Shape:
    """Return a run as a line, or as a dot when one frame stands alone between two gaps."""
    span = (high - low) or 1.0
    placed = tuple(
        (x, _PLOT_TOP + _PLOT_HEIGHT - (y - low) / span * _PLOT_HEIGHT) for x, y in points
    )
    if len(placed) == 1:
        return Circle(*placed[0], 2.5, colour)
    return Polyline(placed, colour)


def _quality(report: Mapping[str, Any]) -> list[Shape]:
    series = report["quality"]["series"]
    shapes: list[Shape] = [
        Text(_PAD, _PLOT_TOP - 10, "HFR", 14, colour=HFR_COLOUR, bold=True),
        # Far enough from "HFR" for the bitmap font at 2x too (the PNG's 14 px headings).
        Text(_PAD + 52, _PLOT_TOP - 10, 'guiding RMS (")', 14, colour=RMS_COLOUR, bold=True),
        Rect(_PAD, _PLOT_TOP, WIDTH - 2 * _PAD, _PLOT_HEIGHT, None, stroke="#555"),
    ]
    times = [datetime.fromisoformat(row["time"]).timestamp() for row in series]
    if not times:
        return shapes
    first, last = min(times), max(times)
    span = (last - first) or 1.0

    def x_of(moment: float) -> float:
        return _PAD + (moment - first) / span * (WIDTH - 2 * _PAD)

    # Pauses (red) and scheduler waits (blue) behind the lines: why frames are missing there.
    for entry in report["timeline"]:
        colour = SPELL_COLOURS.get(entry["state"])
        if colour is None:
            continue
        since = datetime.fromisoformat(entry["since"]).timestamp()
        until = datetime.fromisoformat(entry["until"]).timestamp() if entry["until"] else last
        left, right = x_of(max(since, first)), x_of(min(until, last))
        if right > left:
            shapes.append(
                Rect(left, _PLOT_TOP, right - left, _PLOT_HEIGHT, colour, opacity=_SPELL_OPACITY)
            )
    labels: tuple[tuple[str, str, Anchor, float], ...] = (
        ("hfr", HFR_COLOUR, "end", _PAD - 4),
        ("guiding_rms", RMS_COLOUR, "start", WIDTH - _PAD + 4),
    )
    for key, colour, anchor, x in labels:
        readings = [
            (t, row[key]) for t, row in zip(times, series, strict=True) if row[key] is not None
        ]
        if not readings:
            continue
        low, high = min(y for _, y in readings), max(y for _, y in readings)
        shapes.extend(
            _line([(x_of(t), y) for t, y in run], low, high, colour) for run in _runs(readings)
        )
        shapes.append(Text(x, _PLOT_TOP + 10, f"{high:.2f}", 11, anchor, colour))
        shapes.append(Text(x, _PLOT_TOP + _PLOT_HEIGHT, f"{low:.2f}", 11, anchor, colour))
    ends: tuple[tuple[float, Anchor], ...] = ((first, "start"), (last, "end"))
    for moment, label_anchor in ends:
        label = report_clock(moment)
        shapes.append(Text(x_of(moment), _PLOT_TOP + _PLOT_HEIGHT + 16, label, 11, label_anchor))
    return shapes


def report_clock(moment: float) -> str:
    """Return a time of the night as HH:MM UTC (the picture does not know the viewer's zone)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M UTC")


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def facts_line(report: Mapping[str, Any]) -> str:
    """Autofocus runs, flips, pauses, errors and flagged frames in one line."""
    counts = report["counts"]
    return " · ".join(
        (
            _count(counts.get("autofocus_runs", 0), "autofocus run", "autofocus runs"),
            _count(counts.get("meridian_flips", 0), "flip", "flips"),
            _count(counts.get("pauses", 0), "pause", "pauses"),
            _count(counts.get("errors", 0), "error", "errors"),
            _count(report["quality"]["rejected"]["count"], "frame flagged", "frames flagged"),
        )
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def report_picture(report: Mapping[str, Any]) -> Picture:
    """Lay the report out: title lines, per-filter bars, HFR and RMS over the night."""
    return Picture(
        WIDTH,
        HEIGHT,
        BACKGROUND,
        INK,
        [
            Text(_PAD, 30, f"Night of {report['night']}", 18, bold=True),
            # Two 12 px lines close under the title, so the 2x heading below keeps its air.
            Text(_PAD, 50, _shorten(notification_text(report), 115), 12, colour=MUTED),
            Text(_PAD, 68, facts_line(report), 12, colour=MUTED),
            *_bars(report),
            *_quality(report),
        ],
    )
