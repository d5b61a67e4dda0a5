"""A frame's stored JSON is byte for byte what the generic encoder wrote of it before.

`frame_json` writes the text field by field; rows written earlier, `frame_from_json` and the
SQL that filters frames by type (`json_extract`) all read that one layout.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta, timezone
import json
import math
import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine import stored_rows
from custom_components.nina_session.engine.models import Frame, NinaEvent, Source
from custom_components.nina_session.engine.normalize import Normalizer
from custom_components.nina_session.engine.stored_rows import (
    data_text,
    frame_column,
    frame_from_json,
    frame_json,
)
from custom_components.nina_session.engine.wire import WireEvent, parse_image_record

FRAME = Frame(
    image_type="LIGHT", exposure=180.0, filter="Ha", target="NGC 2237",
    camera="ZWO ASI2600MM Pro", telescope="Esprit 100ED", hfr=2.937, stars=545,
    guiding_rms=0.65, temperature=-9.7,
    taken_at=datetime(2025, 1, 1, 18, 44, 0, 614357, tzinfo=UTC),
    filename="2025-01-01_19-40-58_Ha_-9.70_180.00s_0000.fits",
)  # fmt: skip

VARIANTS = {
    "history frame": FRAME,
    "names to escape": replace(
        FRAME, target='M 31 "Andromeda" \\ ü 🌌\n', filter="Hα", camera="\x00\x1f", telescope=""
    ),
    "nothing known": Frame(
        "DARK", None, "none", None, None, None, None, None, None, None, None, None
    ),
    "whole and odd numbers": replace(
        FRAME,
        exposure=300,
        hfr=math.nan,
        guiding_rms=math.inf,
        temperature=-math.inf,
        stars=0,
    ),
    "tiny and huge floats": replace(FRAME, exposure=1e-7, hfr=1e22, temperature=-0.0),
    "whole second, other zone": replace(
        FRAME, taken_at=datetime(2025, 1, 1, 19, 44, tzinfo=timezone(timedelta(hours=1)))
    ),
    "inferred names": replace(FRAME, target="M 42", inferred=("target", "filter")),
}


def generic_encoding(frame: Frame) -> str:
    """Return what rows were written with: the compact encoder over a dict of the fields."""
    values: dict[str, Any] = {field.name: getattr(frame, field.name) for field in fields(Frame)}
    values["taken_at"] = frame.taken_at.isoformat() if frame.taken_at else None
    values["inferred"] = list(frame.inferred)
    return json.dumps(values, separators=(",", ":"))


@pytest.mark.parametrize("frame", VARIANTS.values(), ids=VARIANTS.keys())
def test_a_frame_is_written_as_the_generic_encoder_wrote_it(frame: Frame) -> None:
    """Test the layout byte for byte, and that it reads back (NaN compares unequal)."""
    text = frame_json(frame)
    assert text == generic_encoding(frame)
    assert text is not None and text.isascii()
    back = frame_from_json(text)
    assert back is not None
    assert repr(back) == repr(frame)


def test_sqlite_reads_the_type_of_a_written_frame() -> None:
    """Test that `json_extract` (frames filtered by type in SQL) reads the written text."""
    db = sqlite3.connect(":memory:")
    texts = [frame_json(frame) for frame in VARIANTS.values() if math.isfinite(frame.hfr or 0)]
    found = [
        db.execute("SELECT json_extract(?, '$.image_type')", (t,)).fetchone()[0] for t in texts
    ]
    assert found == ["LIGHT", "LIGHT", "DARK", "LIGHT", "LIGHT", "LIGHT"]


def test_data_text_is_the_received_text_else_the_compact_encoding() -> None:
    """Test empty data (most history events), data with fields, and text as received."""
    empty = NinaEvent("GUIDER-DITHER", FRAME.taken_at or datetime.now(UTC), {}, Source.HISTORY,
                      "f", False)  # fmt: skip
    assert data_text(empty) == "{}"
    full = replace(empty, data={"Name": "ü", "Value": 1.5})
    assert data_text(full) == '{"Name":"\\u00fc","Value":1.5}'
    received = replace(full, text='{"Name": "ü", "Value": 1.5}')
    assert data_text(received) == '{"Name": "ü", "Value": 1.5}'


def test_repeated_numbers_read_the_same_and_zeros_keep_their_sign() -> None:
    """Test frames whose floats repeat (texts kept per value), 0.0 and -0.0 (one dict key)."""
    values = [0.0, -0.0, 1.5, -1.5, 0.0, -0.0, 1.5, 300, 1e-7, 0.1 + 0.2]
    for value in values:
        frame = replace(FRAME, exposure=value, temperature=-value, hfr=value)
        assert frame_json(frame) == generic_encoding(frame)


def test_the_kept_number_texts_stay_bounded() -> None:
    """Test that a long run of distinct values (a process up for months) keeps a few."""
    for step in range(20_000):
        frame = replace(FRAME, hfr=1 + step / 1000, guiding_rms=step / 7)
        assert frame_json(frame) == generic_encoding(frame)
    assert len(stored_rows._FLOAT_TEXTS) <= stored_rows._FLOAT_TEXTS_MAX  # noqa: SLF001


def test_repeated_leading_fields_read_the_same_whatever_their_type() -> None:
    """Test frames whose type, exposure and names repeat (their text is kept per values).

    300 and 300.0, 0.0 and -0.0, True and 1.0 are one key to a dict but not one text.
    """
    exposures: list[Any] = [300.0, 300, 300.0, 0.0, -0.0, 0.0, None, 1.0, True, 1.0, math.nan]
    names: list[Any] = ["Ha", "", None, "Ha"]
    for exposure in exposures:
        for name in names:
            frame = replace(FRAME, exposure=exposure, target=name, camera=name)
            assert frame_json(frame) == generic_encoding(frame)


def test_the_kept_leading_texts_stay_bounded() -> None:
    """Test that a long run of distinct targets (a process up for months) keeps a few."""
    for step in range(3_000):
        frame = replace(FRAME, target=f"Target {step}")
        assert frame_json(frame) == generic_encoding(frame)
    assert len(stored_rows._HEADS) <= stored_rows._HEADS_MAX  # noqa: SLF001


def _record(date_text: str) -> dict[str, Any]:
    """Return an image-history record captured at `date_text` (NINA's text)."""
    return {"ImageType": "LIGHT", "ExposureTime": 120.0, "Filter": "OIII", "Date": date_text,
            "TargetName": "M 31", "CameraName": "ASI", "TelescopeName": "RC8", "HFR": 2.5,
            "Stars": 900, "RmsText": 'Tot: 0.70 (0.55")', "Temperature": -10.0,
            "Filename": "m31.fits"}  # fmt: skip


DATES = [
    "2026-11-24T19:00:01.1234567+01:00",  # NINA's shape: seven digits, its zone's offset
    "2026-11-24T19:00:01+01:00",  # a whole second: no fraction in ISO form
    "2026-11-24T18:00:01.5Z",
    "2026-11-24T13:00:01.250-05:00",
    "2026-11-24T19:00:01.000001",  # no offset: NINA's configured zone
    "2026-03-29T02:30:00",  # no offset, in the hour summer time skips
    "2026-10-25T02:30:00",  # no offset, in the hour that repeats when summer time ends
]


@pytest.mark.parametrize("date_text", DATES)
def test_a_history_frame_writes_its_capture_time_as_formatted(date_text: str) -> None:
    """Test that a frame's time taken from its fingerprint is the text formatting writes.

    Every history frame (no data to read it back from) stores its frame: the capture time
    comes from the exact fingerprint the normalizer made of it; a copy moved onto our clock
    and one re-read as a flat keep both.
    """
    normalizer = Normalizer(ZoneInfo("Europe/Berlin"))
    wire = WireEvent("IMAGE-SAVE", {}, "2026-11-24T19:00:05+01:00", None)
    event = normalizer.normalize(wire, Source.HISTORY, parse_image_record(_record(date_text)))
    assert event.exact and event.frame is not None and event.frame.taken_at is not None
    moved = event.moved_to(event.time + timedelta(seconds=3))
    flat = replace(event, frame=replace(event.frame, image_type="FLAT"))
    for copy in (event, moved, flat):
        text = frame_column(copy)
        assert text == frame_json(copy.frame) == generic_encoding(copy.frame)
        back = frame_from_json(text)
        assert back is not None and back.taken_at == event.frame.taken_at
