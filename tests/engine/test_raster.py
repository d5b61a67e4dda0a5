"""The standard-library canvas: what it draws lands where asked, and its PNG is valid."""

from __future__ import annotations

import pytest

from custom_components.nina_session.engine.bitmap_font import _GLYPHS, glyph, glyph_spans
from custom_components.nina_session.engine.raster import Canvas, hex_colour, text_width
from tests.engine.png_reader import read_png

BACKGROUND = (28, 28, 30)
RED, WHITE = (229, 83, 75), (232, 232, 232)


def test_png_is_valid_with_the_drawn_rectangle_where_it_was_drawn() -> None:
    """Test the signature, chunk order and CRCs, the size, and pixels in and out of a rect."""
    canvas = Canvas(40, 30, BACKGROUND)
    canvas.fill_rect(10, 5, 8, 6, RED)
    png = read_png(canvas.to_png())
    assert (png.width, png.height) == (40, 30)
    assert png.chunk_types == [b"IHDR", b"IDAT", b"IEND"]
    assert png.pixel(10, 5) == RED and png.pixel(17, 10) == RED
    assert png.pixel(18, 10) == BACKGROUND and png.pixel(17, 11) == BACKGROUND
    assert png.pixel(0, 0) == BACKGROUND and png.pixel(39, 29) == BACKGROUND


def test_shapes_outside_the_canvas_are_clipped() -> None:
    """Test that drawing past every edge changes only the pixels inside."""
    canvas = Canvas(10, 10, BACKGROUND)
    canvas.fill_rect(-5, -5, 30, 30, RED)
    canvas.polyline([(-20, 5), (30, 5)], WHITE, 2)
    canvas.text(-3, 5, "Wide text past the edge", WHITE, scale=3)
    canvas.fill_circle(12, 12, 5, WHITE)
    assert read_png(canvas.to_png()).pixel(0, 9) == RED


def test_translucent_and_rounded_rectangles() -> None:
    """Test a 20% fill blended over the background and a rounded corner left clear."""
    canvas = Canvas(30, 30, (0, 0, 0))
    canvas.fill_rect(0, 0, 10, 10, (200, 100, 50), opacity=0.2)
    canvas.fill_rect(15, 15, 12, 12, RED, radius=3)
    canvas.stroke_rect(1.0, 20.0, 8, 5, WHITE)
    png = read_png(canvas.to_png())
    assert png.pixel(5, 5) == (40, 20, 10)
    assert png.pixel(15, 15) == (0, 0, 0)  # the corner is cut
    assert png.pixel(18, 15) == RED and png.pixel(15, 18) == RED
    assert png.pixel(1, 20) == WHITE and png.pixel(9, 25) == WHITE
    assert png.pixel(5, 22) == (0, 0, 0)  # an outline only


def test_polyline_has_its_width_and_soft_edges() -> None:
    """Test a 2 px line: solid on its path, blended at its edge, clear a few pixels off."""
    canvas = Canvas(60, 40, BACKGROUND)
    canvas.polyline([(5.0, 20.0), (30.0, 20.0), (55.0, 5.0)], RED, 2)
    png = read_png(canvas.to_png())
    assert png.pixel(15, 19) == RED and png.pixel(15, 20) == RED
    assert png.pixel(15, 17) == BACKGROUND and png.pixel(15, 22) == BACKGROUND
    assert png.pixel(30, 19) == RED  # the join is drawn
    # Along the diagonal, some pixels are partly covered: neither the line nor the ground.
    partial = {png.pixel(x, y) for x in range(31, 55) for y in range(4, 20)} - {RED, BACKGROUND}
    assert partial
    assert all(BACKGROUND[0] < red < RED[0] for red, _, _ in partial)


def test_filled_circle() -> None:
    """Test a dot: solid at its centre, clear past its radius."""
    canvas = Canvas(20, 20, BACKGROUND)
    canvas.fill_circle(10, 10, 4, WHITE)
    png = read_png(canvas.to_png())
    assert png.pixel(9, 9) == WHITE and png.pixel(10, 10) == WHITE
    assert png.pixel(10, 15) == BACKGROUND and png.pixel(4, 10) == BACKGROUND


def lit(canvas: Canvas) -> set[tuple[int, int]]:
    """Return the pixels that are not background."""
    png = read_png(canvas.to_png())
    return {
        (x, y) for y in range(png.height) for x in range(png.width) if png.pixel(x, y) != BACKGROUND
    }


def written(body: str, x: int = 2, **options: object) -> set[tuple[int, int]]:
    """Return the pixels `body` lights on a fresh canvas, written at (x, 20)."""
    canvas = Canvas(120, 40, BACKGROUND)
    canvas.text(x, 20, body, WHITE, **options)  # type: ignore[arg-type]
    return lit(canvas)


def test_text_stands_on_its_baseline_in_its_colour_and_scale() -> None:
    """Test where a glyph lands (7 rows above the baseline), descenders, and 2x."""
    e = written("E")
    assert min(x for x, _ in e) == 2 and max(x for x, _ in e) == 6
    assert min(y for _, y in e) == 13 and max(y for _, y in e) == 19
    assert max(y for _, y in written("g")) == 21  # below the baseline
    big = written("E", scale=2)
    assert max(x for x, _ in big) == 11 and min(y for _, y in big) == 6
    canvas = Canvas(20, 20, BACKGROUND)
    canvas.text(2, 12, "I", RED)
    assert read_png(canvas.to_png()).pixel(4, 8) == RED
    assert text_width("Ha", 2) == 22


def test_text_anchors() -> None:
    """Test that middle and end anchors centre and right-align the text on x."""
    middle = written("OIIH", 60, anchor="middle")
    end = written("OIIH", 60, anchor="end")
    width = text_width("OIIH")
    assert min(x for x, _ in middle) == round(60 - width / 2)
    assert max(x for x, _ in end) == 59


def test_characters_outside_the_font() -> None:
    """Test that an accented letter is drawn as its base letter and the unknown as '?'."""
    assert written("é") == written("e")
    assert written("€") == written("?")
    assert written("Ω") == written("?")
    assert written("·") != written("?")  # the report's own marks are in the font


def test_bad_sizes_are_refused() -> None:
    """Test that an empty canvas and a text scale outside 1-3 raise."""
    with pytest.raises(ValueError, match="positive size"):
        Canvas(0, 10)
    with pytest.raises(ValueError, match="scale"):
        Canvas(10, 10).text(0, 8, "x", WHITE, scale=4)


def test_hex_colours() -> None:
    """Test long and short colour forms."""
    assert hex_colour("#f5a623") == (245, 166, 35)
    assert hex_colour("#555") == (85, 85, 85)


def test_steep_lines_and_a_single_point() -> None:
    """Test a vertical and a steep line as wide as a flat one, and a lone point as a dot."""
    canvas = Canvas(40, 40, BACKGROUND)
    canvas.polyline([(10.0, 2.0), (10.0, 30.0)], RED, 2)
    canvas.polyline([(20.0, 2.0), (24.0, 30.0)], RED, 2)
    canvas.polyline([(33.0, 20.0)], WHITE, 4)
    png = read_png(canvas.to_png())
    assert png.pixel(9, 15) == RED and png.pixel(10, 15) == RED
    assert png.pixel(8, 15) == BACKGROUND and png.pixel(11, 15) == BACKGROUND
    row = [x for x in range(16, 30) if png.pixel(x, 16) != BACKGROUND]
    assert 2 <= len(row) <= 4 and RED in {png.pixel(x, 16) for x in row}
    assert png.pixel(32, 19) == WHITE and png.pixel(33, 23) == BACKGROUND


_FONT_CHARS = tuple(_GLYPHS)


@pytest.mark.parametrize("scale", [1, 2, 3])
@pytest.mark.parametrize("bold", [False, True])
def test_text_runs_cover_exactly_the_glyphs_scaled_pixels(scale: int, bold: bool) -> None:
    """Test that the runs a glyph is painted in light each font pixel as a scale x scale block.

    Bold adds the column right of every block. Checked for every character of the font.
    """
    for char in _FONT_CHARS:
        expected = {
            (column * scale + dx, row * scale + dy)
            for column, row in glyph(char)
            for dx in range(scale + int(bold))
            for dy in range(scale)
        }
        painted = {
            (x + step, y) for x, y, width in glyph_spans(char, scale, bold) for step in range(width)
        }
        assert painted == expected, char
