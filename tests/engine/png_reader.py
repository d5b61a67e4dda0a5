"""A PNG reader for tests, with zlib and struct only: checks every chunk and gives pixels.

Independent of the writer under test: it parses the bytes as the PNG specification lays
them out (signature, length-type-data-CRC chunks, IHDR first, IEND last) and undoes the
row filter the writer uses (type 0).
"""

from __future__ import annotations

from dataclasses import dataclass
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class DecodedPng:
    """The picture a PNG holds: its size, chunk types in order and RGB rows."""

    width: int
    height: int
    chunk_types: list[bytes]
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        """Return the colour of pixel (x, y)."""
        red, green, blue = self.rows[y][x * 3 : x * 3 + 3]
        return red, green, blue


def read_png(data: bytes) -> DecodedPng:
    """Decode an 8-bit RGB PNG, asserting its signature, layout and every CRC."""
    assert data[:8] == SIGNATURE, "no PNG signature"
    at, chunks = 8, []
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC on {kind!r}"
        chunks.append((kind, body))
        at += 12 + length
    types = [kind for kind, _ in chunks]
    assert types[0] == b"IHDR" and types[-1] == b"IEND" and chunks[-1][1] == b""
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour_type, interlace) == (8, 2, 0), "not 8-bit RGB, non-interlaced"
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 3 + 1
    assert len(raw) == stride * height
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0, "only filter type 0 is read here"
        rows.append(line[1:])
    return DecodedPng(width, height, types, rows)
