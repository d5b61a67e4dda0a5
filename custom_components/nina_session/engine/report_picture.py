"""The night report's layout: integration per filter, and HFR and guiding RMS over the night.

Computed once into a list of shapes (rectangles, polylines, circles, text) in an 800 x 480
frame; `report_svg` writes them as SVG text and `report_png` paints them on a raster canvas,
so both pictures show the same thing in the same place.

Phones show the picture about 400 px wide, half its size, so no text is smaller than the
bitmap font at 2x (`BODY`: 12 px a character in the PNG, 6 on the phone, each font pixel
still a whole screen pixel); the title and the night's hours are 3x (`TITLE`). A line holds
`_LINE_CHARS` characters at 2x, so every text is cut to what fits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .night_report import STOP_WORDS

WIDTH, HEIGHT = 800, 480
BACKGROUND, INK, MUTED = "#1c1c1e", "#e8e8e8", "#b0b0b0"
_PAD = 48
#: SVG font sizes: `report_png.font_scale` draws BODY at 2x and TITLE at 3x.
BODY, TITLE = 16, 26
#: Characters of one 2x line between the pads (12 px each in the PNG).
_LINE_CHARS = (WIDTH - 2 * _PAD) // 12
_BARS_TOP, _BARS_HEIGHT = 154, 94
#: The plot leaves room beside it for its 2x axis figures ("3.19" is 46 px).
_PLOT_LEFT, _PLOT_RIGHT = 60, WIDTH - 60
_PLOT_TOP, _PLOT_HEIGHT = 312, 116
HFR_COLOUR, RMS_COLOUR = "#f5a623", "#4a90e2"
#: Seconds without a frame that break the HFR and RMS lines.
_GAP = 20 * 60
SPELL_COLOURS = {"paused": "#e5534b", "waiting": "#6c7a89"}
_SPELL_OPACITY = 0.2
_NEUTRAL_FILTER = "#9aa0a6"
#: Pixels per character of a label (the bitmap font at 2x): long filter names are cut to
#: their bar's slot instead of running into the next one's.
_LABEL_CHAR_WIDTH = 12
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
        Text(_PAD, _BARS_TOP - 26, "Integration per filter (min)", BODY, bold=True)
    ]
    if not seconds:
        return [*shapes, Text(_PAD, _BARS_TOP + 30, "No light frames", BODY)]
    top = max(seconds.values()) or 1.0
    slot_width, bar_width = bar_slots(len(seconds))
    labels = distinct_labels(list(seconds))
    for index, (name, value) in enumerate(seconds.items()):
        height = _BARS_HEIGHT * value / top
        x = _PAD + index * slot_width + (slot_width - bar_width) / 2
        y = _BARS_TOP + _BARS_HEIGHT - height
        shapes.append(Rect(x, y, bar_width, height, filter_colour(name), radius=3))
        shapes.append(Text(x + bar_width / 2, y - 5, f"{value / 60:.0f}", BODY, "middle"))
        label = _shorten(labels[index], int(slot_width // _LABEL_CHAR_WIDTH))
        shapes.append(Text(x + bar_width / 2, _BARS_TOP + _BARS_HEIGHT + 20, label, BODY, "middle"))
    return shapes


def distinct_labels(names: Sequence[str]) -> list[str]:
    """Return the names without the words all of them share ("Astrodon Ha 3nm" -> "Ha").

    A bar's label has room for a few characters only; the words every filter of a set has
    in common tell the bars nothing apart, so they go first.
    """
    words = [name.split() for name in names]
    if len(words) < 2:
        return list(names)
    head = 0
    while all(len(w) > head + 1 and w[head] == words[0][head] for w in words):
        head += 1
    tail = 0
    while all(len(w) > head + tail + 1 and w[-1 - tail] == words[0][-1 - tail] for w in words):
        tail += 1
    return [" ".join(w[head : len(w) - tail]) for w in words]


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
        Text(_PAD, _PLOT_TOP - 12, "HFR", BODY, colour=HFR_COLOUR, bold=True),
        # "HFR" at 2x is 35 px wide: the next heading starts a character after it.
        Text(_PAD + 52, _PLOT_TOP - 12, 'guiding RMS (")', BODY, colour=RMS_COLOUR, bold=True),
        Rect(_PLOT_LEFT, _PLOT_TOP, _PLOT_RIGHT - _PLOT_LEFT, _PLOT_HEIGHT, None, stroke="#555"),
    ]
    times = [datetime.fromisoformat(row["time"]).timestamp() for row in series]
    if not times:
        return shapes
    first, last = min(times), max(times)
    span = (last - first) or 1.0

    def x_of(moment: float) -> float:
        return _PLOT_LEFT + (moment - first) / span * (_PLOT_RIGHT - _PLOT_LEFT)

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
        ("hfr", HFR_COLOUR, "end", _PLOT_LEFT - 4),
        ("guiding_rms", RMS_COLOUR, "start", _PLOT_RIGHT + 4),
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
        shapes.append(Text(x, _PLOT_TOP + 14, f"{high:.2f}", BODY, anchor, colour))
        shapes.append(Text(x, _PLOT_TOP + _PLOT_HEIGHT, f"{low:.2f}", BODY, anchor, colour))
    ends: tuple[tuple[float, Anchor], ...] = ((first, "start"), (last, "end"))
    for moment, label_anchor in ends:
        label = report_clock(moment)
        shapes.append(Text(x_of(moment), _PLOT_TOP + _PLOT_HEIGHT + 20, label, BODY, label_anchor))
    return shapes


def report_clock(moment: float) -> str:
    """Return a time of the night as HH:MM UTC (the picture does not know the viewer's zone)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M UTC")


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def facts_line(report: Mapping[str, Any]) -> str:
    """Autofocus runs, flips, pauses, errors and flagged frames in one short line."""
    counts = report["counts"]
    return " · ".join(
        (
            f"{counts.get('autofocus_runs', 0)} autofocus",
            _count(counts.get("meridian_flips", 0), "flip", "flips"),
            _count(counts.get("pauses", 0), "pause", "pauses"),
            _count(counts.get("errors", 0), "error", "errors"),
            f"{report['quality']['rejected']['count']} flagged",
        )
    )


def stop_line(report: Mapping[str, Any]) -> str:
    """Why the night stopped, and its targets."""
    reason = report["stopped"]["reason"]
    targets = ", ".join(target["name"] for target in report["targets"])
    stopped = f"Stopped: {STOP_WORDS.get(reason, reason)}"
    return f"{stopped} · {targets}" if targets else stopped


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


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
            Text(_PAD, 38, f"Night of {report['night']}", TITLE, bold=True),
            Text(WIDTH - _PAD, 38, _hours(report["integration_seconds"]), TITLE, "end", bold=True),
            Text(_PAD, 66, _shorten(stop_line(report), _LINE_CHARS), BODY, colour=MUTED),
            Text(_PAD, 90, _shorten(facts_line(report), _LINE_CHARS), BODY, colour=MUTED),
            *_bars(report),
            *_quality(report),
        ],
    )
