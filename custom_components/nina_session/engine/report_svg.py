"""The night report picture as SVG text (no drawing library): a card shows it as it is.

Writes the shapes of `report_picture`; every text taken from NINA (target and filter names)
is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from .report_picture import Circle, Picture, Polyline, Rect, Shape, Text, report_picture


def _number(value: float) -> str:
    """Whole numbers as they are, others to a tenth of a pixel."""
    return str(value) if isinstance(value, int) else f"{value:.1f}"


def _text(shape: Text) -> str:
    extra = ' font-weight="bold"' if shape.bold else ""
    if shape.colour is not None:
        extra += f' fill="{shape.colour}"'
    return (
        f'<text x="{shape.x:.1f}" y="{shape.y:.1f}" font-size="{shape.size}" '
        f'text-anchor="{shape.anchor}"{extra}>{escape(shape.body)}</text>'
    )


def _rect(shape: Rect) -> str:
    paint = f'fill="{shape.fill or "none"}"'
    if shape.stroke is not None:
        paint += f' stroke="{shape.stroke}"'
    if shape.radius:
        paint += f' rx="{shape.radius:g}"'
    if shape.opacity < 1.0:
        paint += f' fill-opacity="{shape.opacity:g}"'
    return (
        f'<rect x="{_number(shape.x)}" y="{_number(shape.y)}" width="{_number(shape.width)}" '
        f'height="{_number(shape.height)}" {paint}/>'
    )


def _element(shape: Shape) -> str:
    match shape:
        case Text():
            return _text(shape)
        case Rect():
            return _rect(shape)
        case Polyline():
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in shape.points)
            return (
                f'<polyline points="{points}" fill="none" stroke="{shape.colour}" '
                f'stroke-width="{shape.width:g}"/>'
            )
        case Circle():
            return (
                f'<circle cx="{shape.cx:.1f}" cy="{shape.cy:.1f}" r="{shape.radius:g}" '
                f'fill="{shape.colour}"/>'
            )


def picture_svg(picture: Picture) -> str:
    """Return a laid-out picture as an SVG document."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{picture.width}" '
        f'height="{picture.height}" viewBox="0 0 {picture.width} {picture.height}" '
        f'font-family="sans-serif" fill="{picture.ink}">',
        f'<rect width="{picture.width}" height="{picture.height}" fill="{picture.background}"/>',
        *(_element(shape) for shape in picture.shapes),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def report_svg(report: Mapping[str, Any]) -> str:
    """Draw the report as SVG: title lines, per-filter bars, HFR and RMS over the night."""
    return picture_svg(report_picture(report))
