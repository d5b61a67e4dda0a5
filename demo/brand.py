"""Draw the brand images: custom_components/nina_session/brand/*.png (icon, logo, dark_logo).

    .venv/bin/python demo/brand.py

A telescope on a tripod under a night sky in a rounded square; the logo adds the name.
Pillow only (it ships with Home Assistant); no fonts or files from outside: the text uses
Pillow's built-in font. Drawn at 4x and scaled down for smooth edges.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
BRAND = ROOT / "custom_components" / "nina_session" / "brand"

SKY_TOP = (20, 24, 66)
SKY_BOTTOM = (58, 42, 120)
WHITE = (255, 255, 255)
ACCENT = (255, 196, 61)
TEXT = (40, 44, 96)
SCALE = 4

Point = tuple[float, float]


def _sky(size: int) -> Image.Image:
    """Draw a vertical gradient in a rounded square, transparent outside."""
    gradient = Image.new("RGB", (size, size))
    draw = ImageDraw.Draw(gradient)
    for y in range(size):
        t = y / (size - 1)
        color = tuple(round(a + (b - a) * t) for a, b in zip(SKY_TOP, SKY_BOTTOM, strict=True))
        draw.line([(0, y), (size, y)], fill=color)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle([0, 0, size - 1, size - 1], radius=size * 0.22, fill=255)
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    image.paste(gradient, (0, 0), mask)
    return image


def _star(draw: ImageDraw.ImageDraw, center: Point, radius: float, color: tuple[int, ...]) -> None:
    """Draw a four-pointed sparkle."""
    cx, cy = center
    inner = radius * 0.28
    points = []
    for i in range(8):
        angle = math.pi / 4 * i - math.pi / 2
        r = radius if i % 2 == 0 else inner
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=color)


def _rotated_rect(center: Point, length: float, width: float, angle: float) -> list[Point]:
    cx, cy = center
    dx, dy = math.cos(angle), math.sin(angle)
    nx, ny = -dy, dx
    hl, hw = length / 2, width / 2
    return [
        (cx + dx * hl + nx * hw, cy + dy * hl + ny * hw),
        (cx + dx * hl - nx * hw, cy + dy * hl - ny * hw),
        (cx - dx * hl - nx * hw, cy - dy * hl - ny * hw),
        (cx - dx * hl + nx * hw, cy - dy * hl + ny * hw),
    ]


def draw_icon(size: int) -> Image.Image:
    """Draw the icon, `size` pixels square: a telescope on a tripod aimed at a star."""
    big = size * SCALE
    image = _sky(big)
    draw = ImageDraw.Draw(image)
    u = big / 100  # drawing units: 100 x 100

    for x, y, r in ((20, 18, 2.2), (34, 30, 1.2), (52, 14, 1.5), (86, 40, 1.3), (14, 48, 1.0)):
        draw.ellipse([(x - r) * u, (y - r) * u, (x + r) * u, (y + r) * u], fill=WHITE)
    _star(draw, (78 * u, 20 * u), 9 * u, ACCENT)

    # Tripod, then the tube pointing up to the star, then the mount head.
    head = (46 * u, 60 * u)
    for foot in ((26 * u, 88 * u), (46 * u, 90 * u), (66 * u, 88 * u)):
        draw.line([head, foot], fill=WHITE, width=round(4.2 * u))
    angle = -math.radians(38)
    tube_center = (50 * u, 47 * u)
    draw.polygon(_rotated_rect(tube_center, 50 * u, 13 * u, angle), fill=WHITE)
    dx, dy = math.cos(angle), math.sin(angle)
    front = (tube_center[0] + dx * 25 * u, tube_center[1] + dy * 25 * u)
    draw.polygon(_rotated_rect(front, 6 * u, 16 * u, angle), fill=WHITE)  # dew shield
    back = (tube_center[0] - dx * 27 * u, tube_center[1] - dy * 27 * u)
    draw.polygon(_rotated_rect(back, 6 * u, 7 * u, angle), fill=WHITE)  # focuser
    draw.polygon(_rotated_rect(tube_center, 8 * u, 14.5 * u, angle), fill=ACCENT)  # ring
    r = 5 * u
    draw.ellipse([head[0] - r, head[1] - r, head[0] + r, head[1] + r], fill=WHITE)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def draw_logo(height: int, text_color: tuple[int, int, int] = TEXT) -> Image.Image:
    """Draw the icon and "NINA Session" beside it, on a transparent background."""
    big = height * SCALE
    icon = draw_icon(height).resize((big, big), Image.Resampling.LANCZOS)
    font = ImageFont.load_default(size=round(big * 0.42))
    probe = ImageDraw.Draw(Image.new("RGBA", (1, 1)))
    text = "NINA Session"
    left, top, right, bottom = probe.textbbox((0, 0), text, font=font)
    gap = round(big * 0.18)
    width = big + gap + round(right - left) + round(big * 0.06)
    image = Image.new("RGBA", (width, big), (0, 0, 0, 0))
    image.paste(icon, (0, 0), icon)
    draw = ImageDraw.Draw(image)
    y = (big - (bottom - top)) / 2 - top
    draw.text((big + gap - left, y), text, font=font, fill=text_color)
    return image.resize((width // SCALE, height), Image.Resampling.LANCZOS)


def main() -> None:
    """Write the icon and logo PNGs (1x, 2x, dark) into the integration's brand folder."""
    BRAND.mkdir(parents=True, exist_ok=True)
    draw_icon(256).save(BRAND / "icon.png", optimize=True)
    draw_icon(512).save(BRAND / "icon@2x.png", optimize=True)
    draw_logo(128).save(BRAND / "logo.png", optimize=True)
    draw_logo(256).save(BRAND / "logo@2x.png", optimize=True)
    # For dark themes (HACS, the integrations page in dark mode): white text.
    draw_logo(128, WHITE).save(BRAND / "dark_logo.png", optimize=True)
    draw_logo(256, WHITE).save(BRAND / "dark_logo@2x.png", optimize=True)
    for path in sorted(BRAND.glob("*.png")):
        with Image.open(path) as image:
            print(f"{path.relative_to(ROOT)}: {image.size[0]}x{image.size[1]}")


if __name__ == "__main__":
    main()
