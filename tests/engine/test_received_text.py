"""A live frame's data is stored as the text it arrived in, when that text reads the same.

The plugin writes compact JSON; encoding the decoded data again only costs time. The text is
kept only where every reader (Python and SQLite's JSON functions) reads it as the data the
pipeline folded; anything else (a repeated key, a NaN, a number past a float's range, a
second `Event`, indentation) is encoded again, as strict JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

from bench.workload import live_frames, stretch
from custom_components.nina_session.engine.models import NinaEvent, Source
from custom_components.nina_session.engine.normalize import Normalizer
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.stored_rows import derivable
from custom_components.nina_session.engine.wire import parse_socket_frame
from tests.engine.frames import at, image

_TAIL = ',"Error":"","StatusCode":200,"Success":true,"Type":"Socket"}'


def socket(response_text: str) -> str:
    """Return a frame as the plugin writes it around a `Response` object's text."""
    return '{"Response":' + response_text + _TAIL


def compact(message: dict[str, Any]) -> str:
    """Encode a message as the plugin's Newtonsoft writer does (no spaces)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def stored(db_path: Path, name: str) -> list[tuple[str, Any]]:
    """Return (data text, SQLite's reading of `$.A`) of the stored events called `name`."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT data, json_extract(data, '$.A') FROM session_events WHERE name = ? ORDER BY ts",
            (name,),
        )
        return list(rows)


def strict(text: str) -> Any:
    """Decode JSON text, refusing NaN and Infinity (what SQLite's JSON functions refuse)."""

    def refuse(token: str) -> None:
        raise ValueError(token)

    return json.loads(text, parse_constant=refuse)


def test_the_received_text_is_kept_exactly_when_it_reads_the_same(
    pipeline: Pipeline, db_path: Path
) -> None:
    """Test that compact text is stored verbatim, and text that reads otherwise re-encoded."""
    kept = '{"Event":"FLAT-BRIGHTNESS-CHANGED","Previous":80.0,"New":2048.00,"Note":"Café"}'
    cases = [
        (0, kept),
        (1, '{"Event":"X-DUPLICATE","A":1,"A":2}'),  # SQLite would read the first A, Python 2
        (2, '{"Event":"X-SPACED", "A": 1}'),  # not compact: stored compact
        (3, '{"A":1,"Event":"X-EVENT-LAST"}'),  # the cut needs Event first
        (4, '{"Event":"X-TWICE","A":1,"Event":"X-TWICE"}'),
        (5, '{"Event":"X-NAN","A":NaN}'),
        (6, '{"Event":"X-NESTED","B":{"A":1,"A":3},"A":5}'),  # a repeat one level down
    ]
    result = pipeline.ingest_frames([(socket(text), at(minutes)) for minutes, text in cases])
    assert result.rejected == 0 and len(result.applied) == len(cases)

    assert stored(db_path, "FLAT-BRIGHTNESS-CHANGED") == [
        ('{"Previous":80.0,"New":2048.00,"Note":"Café"}', None)
    ]
    expected = {
        "X-DUPLICATE": ({"A": 2}, 2),
        "X-SPACED": ({"A": 1}, 1),
        "X-EVENT-LAST": ({"A": 1}, 1),
        "X-TWICE": ({"A": 1}, 1),
        "X-NAN": ({"A": None}, None),
        "X-NESTED": ({"B": {"A": 3}, "A": 5}, 5),
    }
    for name, (data, sqlite_reads) in expected.items():
        [(text, extracted)] = stored(db_path, name)
        assert strict(text) == data, name
        assert extracted == sqlite_reads, name
        assert ": " not in text, name


def test_a_number_past_the_float_range_is_stored_as_strict_json(
    pipeline: Pipeline, db_path: Path
) -> None:
    """Test that 1e400 written out in digits is no Infinity in the row and breaks no frame."""
    digits = "1" + "0" * 400
    brightness = socket('{"Event":"FLAT-BRIGHTNESS-CHANGED","Previous":1,"New":' + digits + ".0}")
    frame = compact(image(1.0, ExposureTime=int(digits)))  # an integer too big for a float
    result = pipeline.ingest_frames([(brightness, at(0)), (frame, at(1))])

    assert result.rejected == 0 and len(result.applied) == 2
    [(text, _)] = stored(db_path, "FLAT-BRIGHTNESS-CHANGED")
    assert strict(text) == {"Previous": 1, "New": None}
    saved = result.applied[1].event.frame
    assert saved is not None and saved.exposure is None


def _normalized(raw_frames: list[tuple[str, Any]]) -> Iterator[NinaEvent]:
    normalizer = Normalizer(ZoneInfo("Europe/Berlin"))
    for raw, received_at in raw_frames:
        yield normalizer.normalize(parse_socket_frame(raw, received_at), Source.LIVE)


def test_a_frame_is_called_derivable_only_when_its_data_gives_it_back() -> None:
    """Test the normalizer's quick proof against the store's full check, on real nights.

    The store keeps no frame for an event the normalizer marks, so a wrong mark would lose
    the frame: lower-case types, times without an offset and names taken from context must
    all be left to the full check.
    """
    nights = live_frames(stretch(4000))
    odd = [
        (compact(image(1.0, image_type="light")), at(1)),
        (compact(image(2.0, Date="2026-11-24T19:02:00.0000000")), at(2)),
        (compact(image(3.0, target=None)), at(3)),  # the target comes from the frame before
    ]
    frames = [e for e in _normalized([*nights, *odd]) if e.frame is not None]
    assert sum(e.frame_in_data for e in frames) > 500
    for event in frames:
        assert event.frame is not None
        assert event.frame_in_data == derivable(event.data, event.frame), event
    assert not any(e.frame_in_data for e in frames[-3:])
