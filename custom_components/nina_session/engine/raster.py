"""A small RGB canvas that writes PNG, with the standard library only (zlib, struct).

Enough to draw a report for a phone: filled (optionally rounded or translucent) rectangles,
anti-aliased lines and polylines with a width, filled circles, and text in the 5x7 bitmap
font at 1-3x. Coordinates are SVG's: pixel (i, j) covers [i, i+1) x [j, j+1), so a
rectangle drawn at whole numbers covers whole pixels and both outputs of one layout agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import itertools
import math
import struct
import zlib

from .bitmap_font import ADVANCE, ASCENT, glyph_spans

type Colour = tuple[int, int, int]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: zlib level for IDAT: a report is mostly flat colour, so 6 gains nothing over a faster one.
_COMPRESSION = 6


def hex_colour(text: str) -> Colour:
    """Return "#rrggbb" or "#rgb" as an RGB triple."""
    digits = text.removeprefix("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    value = int(digits, 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


def text_width(body: str, scale: int = 1, *, bold: bool = False) -> int:
    """Return the width in pixels that `text` draws `body` in."""
    if not body:
        return 0
    return (len(body) * ADVANCE - 1) * scale + (1 if bold else 0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


class Canvas:
    """An RGB picture of `width` x `height`, filled with `background`."""

    def __init__(self, width: int, height: int, background: Colour = (0, 0, 0)) -> None:
        """Make the canvas, every pixel `background`."""
        if width <= 0 or height <= 0:
            raise ValueError(f"a canvas needs a positive size, not {width}x{height}")
        self.width, self.height = width, height
        self._stride = width * 3
        self._pixels = bytearray(bytes(background) * (width * height))

    def pixel(self, x: int, y: int) -> Colour:
        """Return the colour at pixel (x, y)."""
        at = y * self._stride + x * 3
        red, green, blue = self._pixels[at : at + 3]
        return red, green, blue

    # -- rectangles ----------------------------------------------------------------------
    def fill_rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        colour: Colour,
        *,
        opacity: float = 1.0,
        radius: float = 0.0,
    ) -> None:
        """Fill the pixels whose centres lie in the rectangle; `radius` rounds its corners."""
        left, right = self._clip(round(x), round(x + width), self.width)
        top, bottom = self._clip(round(y), round(y + height), self.height)
        if left >= right or top >= bottom:
            return
        corner = min(radius, (right - left) / 2, (bottom - top) / 2)
        paint = self._span_painter(colour, opacity)
        for row in range(top, bottom):
            inset = self._corner_inset(corner, min(row - top, bottom - 1 - row))
            if left + inset < right - inset:
                paint(row * self._stride + (left + inset) * 3, (right - left - 2 * inset) * 3)

    def stroke_rect(self, x: float, y: float, width: float, height: float, colour: Colour) -> None:
        """Draw the 1-pixel outline of a rectangle (SVG's stroke centred on its edge)."""
        left, top = math.floor(x), math.floor(y)
        right, bottom = math.floor(x + width), math.floor(y + height)
        self.fill_rect(left, top, right - left + 1, 1, colour)
        self.fill_rect(left, bottom, right - left + 1, 1, colour)
        self.fill_rect(left, top, 1, bottom - top + 1, colour)
        self.fill_rect(right, top, 1, bottom - top + 1, colour)

    @staticmethod
    def _clip(start: int, stop: int, limit: int) -> tuple[int, int]:
        return max(start, 0), min(stop, limit)

    @staticmethod
    def _corner_inset(radius: float, rows_from_edge: int) -> int:
        """Return how many pixels a rounded corner takes off a row near the top or bottom."""
        if radius <= 0 or rows_from_edge >= radius:
            return 0
        rise = radius - rows_from_edge - 0.5
        return round(radius - math.sqrt(max(radius * radius - rise * rise, 0.0)))

    def _span_painter(self, colour: Colour, opacity: float) -> Callable[[int, int], None]:
        """Return a painter of `length` bytes of pixels from `start`, opaque or blended."""
        pixels = self._pixels
        if opacity >= 1.0:
            pattern = bytes(colour)

            def paint(start: int, length: int) -> None:
                pixels[start : start + length] = pattern * (length // 3)

            return paint
        # Per-channel lookup tables: a span is blended at C speed.
        tables = [bytes(round(v + (c - v) * opacity) for v in range(256)) for c in colour]

        def blend(start: int, length: int) -> None:
            for channel, table in enumerate(tables):
                span = slice(start + channel, start + length, 3)
                pixels[span] = pixels[span].translate(table)

        return blend

    # -- anti-aliased shapes ---------------------------------------------------------------
    def _blend(self, coverage: dict[int, float], colour: Colour) -> None:
        """Paint `colour` over the pixels of `coverage` (index y * width + x: alpha)."""
        pixels = self._pixels
        red, green, blue = colour
        solid = bytes(colour)
        for index, alpha in coverage.items():
            at = index * 3
            if alpha >= 1.0:
                pixels[at : at + 3] = solid
                continue
            old_red, old_green, old_blue = pixels[at : at + 3]
            pixels[at] = int(old_red + (red - old_red) * alpha + 0.5)
            pixels[at + 1] = int(old_green + (green - old_green) * alpha + 0.5)
            pixels[at + 2] = int(old_blue + (blue - old_blue) * alpha + 0.5)

    def polyline(
        self, points: Sequence[tuple[float, float]], colour: Colour, width: float = 1.0
    ) -> None:
        """Draw connected segments `width` wide, anti-aliased, with round joins and ends.

        Each pixel takes the most coverage any segment or join gives it, so where segments
        meet nothing is drawn darker twice.
        """
        coverage: dict[int, float] = {}
        half = width / 2
        for start, end in itertools.pairwise(points):
            self._cover_band(coverage, start, end, half)
        for x, y in points:
            self._cover_disc(coverage, x, y, half)
        self._blend(coverage, colour)

    def line(
        self, x0: float, y0: float, x1: float, y1: float, colour: Colour, width: float = 1.0
    ) -> None:
        """Draw one anti-aliased segment."""
        self.polyline([(x0, y0), (x1, y1)], colour, width)

    def fill_circle(self, cx: float, cy: float, radius: float, colour: Colour) -> None:
        """Fill a circle with an anti-aliased edge."""
        coverage: dict[int, float] = {}
        self._cover_disc(coverage, cx, cy, radius)
        self._blend(coverage, colour)

    def _cover_disc(self, coverage: dict[int, float], cx: float, cy: float, radius: float) -> None:
        edge = radius + 0.5
        rows = range(max(math.floor(cy - edge), 0), min(math.ceil(cy + edge), self.height))
        columns = range(max(math.floor(cx - edge), 0), min(math.ceil(cx + edge), self.width))
        get = coverage.get
        for y in rows:
            for x in columns:
                alpha = edge - math.hypot(x + 0.5 - cx, y + 0.5 - cy)
                index = y * self.width + x
                if alpha > get(index, 0.0):
                    coverage[index] = min(alpha, 1.0)

    def _cover_band(
        self,
        coverage: dict[int, float],
        start: tuple[float, float],
        end: tuple[float, float],
        half: float,
    ) -> None:
        """Cover the pixels within `half` (plus a soft pixel) of a segment, ends excluded.

        Walks along the segment's longer axis and only across the band, so a line costs its
        length times its width, not its bounding box; the distance to the line is linear
        across a row, so each pixel costs a multiplication. The round ends are `_cover_disc`.
        """
        (x0, y0), (x1, y1) = start, end
        length = math.hypot(x1 - x0, y1 - y0)
        if length == 0.0:
            return
        steep = abs(y1 - y0) > abs(x1 - x0)
        # `a` runs along the segment's longer axis, `b` across it.
        a0, a1, b0, b1 = (y0, y1, x0, x1) if steep else (x0, x1, y0, y1)
        if a1 < a0:
            a0, a1, b0, b1 = a1, a0, b1, b0
        slope = (b1 - b0) / (a1 - a0)
        cos = (a1 - a0) / length  # distance from the line per pixel across
        edge = half + 0.5
        reach = edge / cos
        along_limit, across_limit = (
            (self.height, self.width) if steep else (self.width, self.height)
        )
        get, width = coverage.get, self.width
        for along in range(max(math.ceil(a0 - 0.5), 0), min(math.floor(a1 - 0.5) + 1, along_limit)):
            middle = b0 + (along + 0.5 - a0) * slope
            low = max(math.ceil(middle - reach - 0.5), 0)
            high = min(math.floor(middle + reach - 0.5) + 1, across_limit)
            # The row's pixels by index: side by side for a steep line, a row apart for a flat one.
            step = 1 if steep else width
            first = along * width + low if steep else low * width + along
            offset = low + 0.5 - middle
            for index in range(first, first + (high - low) * step, step):
                alpha = edge - abs(offset) * cos
                offset += 1.0
                if alpha >= 1.0:
                    coverage[index] = 1.0
                elif alpha > get(index, 0.0):
                    coverage[index] = alpha

    # -- text --------------------------------------------------------------------------------
    def text(
        self,
        x: float,
        y: float,
        body: str,
        colour: Colour,
        *,
        scale: int = 1,
        anchor: str = "start",
        bold: bool = False,
    ) -> None:
        """Write `body` with its baseline at `y`; `anchor` is start, middle or end at `x`."""
        if not 1 <= scale <= 3:
            raise ValueError(f"text scale is 1 to 3, not {scale}")
        width = text_width(body, scale, bold=bold)
        left = round(x - {"start": 0, "middle": width / 2, "end": width}[anchor])
        top = round(y) - ASCENT * scale
        pixels, stride, limit = self._pixels, self._stride, self.width
        solid = bytes(colour) * (limit)
        for index, char in enumerate(body):
            origin = left + index * ADVANCE * scale
            for dx, dy, run in glyph_spans(char, scale, bold):
                line = top + dy
                start, stop = max(origin + dx, 0), min(origin + dx + run, limit)
                if start < stop and 0 <= line < self.height:
                    at = line * stride + start * 3
                    pixels[at : at + (stop - start) * 3] = solid[: (stop - start) * 3]

    # -- output --------------------------------------------------------------------------------
    def to_png(self) -> bytes:
        """Return the picture as a PNG (8-bit RGB, no filtering, one IDAT)."""
        stride, pixels = self._stride, self._pixels
        raw = b"".join(
            b"\x00" + pixels[row * stride : (row + 1) * stride] for row in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"".join(
            (
                PNG_SIGNATURE,
                _chunk(b"IHDR", header),
                _chunk(b"IDAT", zlib.compress(raw, _COMPRESSION)),
                _chunk(b"IEND", b""),
            )
        )
