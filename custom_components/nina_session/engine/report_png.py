"""The night report picture as PNG, for phones: the companion apps do not show SVG.

Paints the shapes of `report_picture` on the standard-library raster canvas, so the PNG and
the SVG are one drawing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .raster import Canvas, hex_colour
from .report_picture import Circle, Picture, Polyline, Rect, Shape, Text, report_picture


def font_scale(size: int) -> int:
    """Return the bitmap font's scale for an SVG font size (the 5x7 font at 1x reads as 12)."""
    if size < 14:
        return 1
    return 2 if size < 24 else 3


def _paint(canvas: Canvas, shape: Shape, ink: str) -> None:
    match shape:
        case Rect():
            if shape.fill is not None:
                canvas.fill_rect(
                    shape.x, shape.y, shape.width, shape.height, hex_colour(shape.fill),
                    opacity=shape.opacity, radius=shape.radius,
                )  # fmt: skip
            if shape.stroke is not None:
                canvas.stroke_rect(
                    shape.x, shape.y, shape.width, shape.height, hex_colour(shape.stroke)
                )
        case Polyline():
            canvas.polyline(shape.points, hex_colour(shape.colour), shape.width)
        case Circle():
            canvas.fill_circle(shape.cx, shape.cy, shape.radius, hex_colour(shape.colour))
        case Text():
            canvas.text(
                shape.x, shape.y, shape.body, hex_colour(shape.colour or ink),
                scale=font_scale(shape.size), anchor=shape.anchor, bold=shape.bold,
            )  # fmt: skip


def picture_png(picture: Picture) -> bytes:
    """Return a laid-out picture as PNG bytes."""
    canvas = Canvas(picture.width, picture.height, hex_colour(picture.background))
    for shape in picture.shapes:
        _paint(canvas, shape, picture.ink)
    return canvas.to_png()


def report_png(report: Mapping[str, Any]) -> bytes:
    """Draw the report as an 800 x 480 PNG: title lines, per-filter bars, HFR and RMS."""
    return picture_png(report_picture(report))
