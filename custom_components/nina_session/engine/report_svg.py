"""The night report as a picture: integration per filter, and HFR and guiding RMS over the night.

Plain SVG text (no drawing library): a notification or a card shows it as it is. Every text
taken from NINA (target and filter names) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from .night_report import notification_text

WIDTH, HEIGHT = 800, 480
_PAD = 48
_BARS_TOP, _BARS_HEIGHT = 115, 130
_PLOT_TOP, _PLOT_HEIGHT = 305, 140
_HFR_COLOUR, _RMS_COLOUR = "#f5a623", "#4a90e2"
#: Seconds without a frame that break the HFR and RMS lines.
_GAP = 20 * 60
_SPELL_COLOURS = {"paused": "#e5534b", "waiting": "#6c7a89"}
# Common filter colours; others take a neutral one.
_FILTER_COLOURS = {"L": "#d8d8d8", "R": "#e5534b", "G": "#57ab5a", "B": "#539bf5",
                   "HA": "#c0392b", "H": "#c0392b", "OIII": "#1abc9c", "O": "#1abc9c",
                   "SII": "#8e44ad", "S": "#8e44ad"}  # fmt: skip


def _text(
    x: float, y: float, body: str, size: int = 13, anchor: str = "start", **extra: str
) -> str:
    attrs = "".join(f' {key.replace("_", "-")}="{value}"' for key, value in extra.items())
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{attrs}>'
        f"{escape(body)}</text>"
    )


def _filter_seconds(report: Mapping[str, Any]) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for target in report["targets"]:
        for name, slot in target["by_filter"].items():
            seconds[name] = seconds.get(name, 0.0) + slot["seconds"]
    return seconds


def _bars(report: Mapping[str, Any]) -> list[str]:
    seconds = _filter_seconds(report)
    parts = [_text(_PAD, _BARS_TOP - 24, "Integration per filter (min)", 14, font_weight="bold")]
    if not seconds:
        return [*parts, _text(_PAD, _BARS_TOP + 30, "No light frames")]
    top = max(seconds.values()) or 1.0
    slot_width = (WIDTH - 2 * _PAD) / len(seconds)
    bar_width = min(slot_width * 0.6, 90)
    for index, (name, value) in enumerate(seconds.items()):
        height = _BARS_HEIGHT * value / top
        x = _PAD + index * slot_width + (slot_width - bar_width) / 2
        y = _BARS_TOP + _BARS_HEIGHT - height
        colour = _FILTER_COLOURS.get(name.upper(), "#9aa0a6")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{height:.1f}" '
            f'fill="{colour}" rx="3"/>'
        )
        parts.append(_text(x + bar_width / 2, y - 4, f"{value / 60:.0f}", 12, "middle"))
        parts.append(_text(x + bar_width / 2, _BARS_TOP + _BARS_HEIGHT + 16, name, 13, "middle"))
    return parts


def _polyline(points: Sequence[tuple[float, float]], low: float, high: float, colour: str) -> str:
    span = (high - low) or 1.0
    coords = " ".join(
        f"{x:.1f},{_PLOT_TOP + _PLOT_HEIGHT - (y - low) / span * _PLOT_HEIGHT:.1f}"
        for x, y in points
    )
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>'


def _runs(readings: Sequence[tuple[float, float]]) -> list[list[tuple[float, float]]]:
    """Split readings where no frame came for `_GAP` seconds: a line across a wait would lie."""
    runs: list[list[tuple[float, float]]] = []
    for moment, value in readings:
        if not runs or moment - runs[-1][-1][0] > _GAP:
            runs.append([])
        runs[-1].append((moment, value))
    return runs


def _quality(report: Mapping[str, Any]) -> list[str]:
    series = report["quality"]["series"]
    parts = [
        _text(_PAD, _PLOT_TOP - 10, "HFR", 14, font_weight="bold", fill=_HFR_COLOUR),
        _text(_PAD + 40, _PLOT_TOP - 10, "guiding RMS (\")", 14, font_weight="bold",
              fill=_RMS_COLOUR),
        f'<rect x="{_PAD}" y="{_PLOT_TOP}" width="{WIDTH - 2 * _PAD}" '
        f'height="{_PLOT_HEIGHT}" fill="none" stroke="#555"/>',
    ]  # fmt: skip
    times = [datetime.fromisoformat(row["time"]).timestamp() for row in series]
    if not times:
        return parts
    first, last = min(times), max(times)
    span = (last - first) or 1.0

    def x_of(moment: float) -> float:
        return _PAD + (moment - first) / span * (WIDTH - 2 * _PAD)

    # Pauses (red) and scheduler waits (blue) behind the lines: why frames are missing there.
    for entry in report["timeline"]:
        colour = _SPELL_COLOURS.get(entry["state"])
        if colour is None:
            continue
        since = datetime.fromisoformat(entry["since"]).timestamp()
        until = datetime.fromisoformat(entry["until"]).timestamp() if entry["until"] else last
        left, right = x_of(max(since, first)), x_of(min(until, last))
        if right > left:
            parts.append(
                f'<rect x="{left:.1f}" y="{_PLOT_TOP}" width="{right - left:.1f}" '
                f'height="{_PLOT_HEIGHT}" fill="{colour}" fill-opacity="0.2"/>'
            )
    for key, colour, anchor, x in (
        ("hfr", _HFR_COLOUR, "end", _PAD - 4),
        ("guiding_rms", _RMS_COLOUR, "start", WIDTH - _PAD + 4),
    ):
        readings = [
            (t, row[key]) for t, row in zip(times, series, strict=True) if row[key] is not None
        ]
        if not readings:
            continue
        low, high = min(y for _, y in readings), max(y for _, y in readings)
        parts.extend(
            _polyline([(x_of(t), y) for t, y in run], low, high, colour) for run in _runs(readings)
        )
        parts.append(_text(x, _PLOT_TOP + 10, f"{high:.2f}", 11, anchor, fill=colour))
        parts.append(_text(x, _PLOT_TOP + _PLOT_HEIGHT, f"{low:.2f}", 11, anchor, fill=colour))
    for moment, label_anchor in ((first, "start"), (last, "end")):
        label = report_clock(moment)
        parts.append(_text(x_of(moment), _PLOT_TOP + _PLOT_HEIGHT + 16, label, 11, label_anchor))
    return parts


def report_clock(moment: float) -> str:
    """Return a time of the night as HH:MM UTC (the picture does not know the viewer's zone)."""
    return datetime.fromtimestamp(moment, UTC).strftime("%H:%M UTC")


def facts_line(report: Mapping[str, Any]) -> str:
    """Autofocus runs, flips, pauses, errors and flagged frames in one line."""
    counts = report["counts"]
    return (
        f"{counts.get('autofocus_runs', 0)} autofocus runs · "
        f"{counts.get('meridian_flips', 0)} flips · {counts.get('pauses', 0)} pauses · "
        f"{counts.get('errors', 0)} errors · "
        f"{report['quality']['rejected']['count']} frames flagged"
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_svg(report: Mapping[str, Any]) -> str:
    """Draw the report: title line, per-filter bars, HFR and RMS over the night."""
    title = f"Night of {report['night']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" fill="#e8e8e8">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#1c1c1e"/>',
        _text(_PAD, 30, title, 18, font_weight="bold"),
        _text(_PAD, 52, _shorten(notification_text(report), 115), 12, fill="#b0b0b0"),
        _text(_PAD, 72, facts_line(report), 12, fill="#b0b0b0"),
        *_bars(report),
        *_quality(report),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"
