"""Wire models: the plugin's envelopes, as it really sends them."""

from __future__ import annotations

import json
import math
from types import MappingProxyType
from typing import Any

import pytest

from custom_components.nina_session.engine import wire
from custom_components.nina_session.engine.errors import FrameError
from custom_components.nina_session.engine.wire import (
    MESSAGE_EVENT,
    HistoryEvents,
    parse_event_history,
    parse_image_history,
    parse_image_record,
    parse_socket_frame,
    parse_socket_message,
)
from tests.engine.frames import T0, envelope, event


def test_plain_event_keeps_its_name_and_data() -> None:
    """Test that an event frame parses into its name, data and receive time."""
    wire = parse_socket_frame(json.dumps(event("SAFETY-CHANGED", IsSafe=False)), T0)
    assert (wire.name, dict(wire.data), wire.received_at) == (
        "SAFETY-CHANGED",
        {"IsSafe": False},
        T0,
    )


def test_unknown_event_is_kept_not_dropped() -> None:
    """Test that an event name the engine does not know is parsed, not dropped."""
    assert parse_socket_frame(json.dumps(event("SOMETHING-NEW", X=1)), T0).name == "SOMETHING-NEW"


def test_string_response_is_a_generic_message() -> None:
    """Test that a bare string response becomes a generic message event carrying the text."""
    wire = parse_socket_frame(json.dumps(envelope("CAMERA-INFO-UPDATED")), T0)
    assert wire.name == MESSAGE_EVENT
    assert wire.data == {"Message": "CAMERA-INFO-UPDATED"}


def test_bare_nan_token_from_newtonsoft_is_accepted() -> None:
    """Test that a bare NaN token, as Newtonsoft writes it, does not reject the frame."""
    raw = '{"Response":{"Event":"IMAGE-SAVE","ImageStatistics":{"Temperature":NaN}},"Success":true}'
    assert parse_socket_frame(raw, T0).name == "IMAGE-SAVE"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not_json"),
        ("[1, 2]", "bad_shape"),
        ('{"Response": {"NoEvent": 1}, "Success": true}', "missing_event"),
        ('{"Response": 5, "Success": true}', "bad_shape"),
        (json.dumps(envelope({"Event": "X"}, success=False)), "plugin_error"),
        ('{"Response": {"Event": "X", "Time": 5}, "Success": true}', "bad_time"),
        ("x" * 2_000_000, "too_large"),
    ],
)
def test_bad_frames_raise_one_error_type_with_a_reason(raw: str, reason: str) -> None:
    """Test that each kind of bad frame raises FrameError with its own reason."""
    with pytest.raises(FrameError) as caught:
        parse_socket_frame(raw, T0)
    assert caught.value.reason == reason


def test_history_skips_and_counts_bad_items() -> None:
    """Test that event history keeps good items and counts timeless, nameless and junk ones."""
    payload = envelope(
        [{"Event": "SEQUENCE-STARTING", "Time": "2026-11-24T19:00:00+01:00"},
         {"Event": "IMAGE-SAVE"}, "junk", {"Time": "2026-11-24T19:00:00+01:00"}]
    )  # fmt: skip
    events, rejected = parse_event_history(payload)
    assert [e.name for e in events] == ["SEQUENCE-STARTING"]
    assert rejected == 3


def test_history_items_without_data_carry_the_text_of_their_empty_data() -> None:
    """Test that an item of only Event and Time gives empty data the store need not encode.

    Its data is known strict (`plain`) and its text is `{}`; each event gets its own dict.
    A name that is blank or no text is rejected as before, and other items keep no text.
    """
    time = "2026-11-24T19:00:00+01:00"
    payload = envelope(
        [{"Event": " image-save ", "Time": time}, {"Time": time, "Event": "DITHER"},
         {"Event": "  ", "Time": time}, {"Event": 5, "Time": time},
         {"Event": "FILTERWHEEL-CHANGED", "Time": time, "New": {"Name": "Ha"}}]
    )  # fmt: skip
    events, rejected = parse_event_history(payload)
    assert [(e.name, e.data, e.time_text, e.plain, e.text) for e in events] == [
        ("IMAGE-SAVE", {}, time, True, "{}"),
        ("DITHER", {}, time, True, "{}"),
        ("FILTERWHEEL-CHANGED", {"New": {"Name": "Ha"}}, time, False, None),
    ]
    assert rejected == 2
    assert events[0].data is not events[1].data


def test_a_run_of_decoded_history_items_keeps_the_good_ones_with_their_offsets() -> None:
    """Test a run with items that are no event: they are counted, the others kept in order."""
    time = "2026-11-24T19:00:00+01:00"
    good = [{"Event": "A", "Time": time}, {"Event": "B", "Time": time, "N": 1}]
    history = HistoryEvents()
    history.extend([good[0]], [14])
    history.extend([good[1], "junk", {"Event": "C"}, {"Event": "D", "Time": 5}], [40, 70, -1, 90])
    assert history.items == good and history.source.offsets == [14, 40]
    assert history.rejected == 3 and len(history) == 5
    events, rejected = history.events()
    assert [event.name for event in events] == ["A", "B"] and rejected == 3


def test_image_history_reads_strings_nan_and_missing_keys() -> None:
    """Test that image records map 'NaN' and missing keys to None and reject non-dict items."""
    records, rejected = parse_image_history(
        [{"ExposureTime": "NaN", "ImageType": "flat", "Temperature": "NaN", "Stars": 12.0}, 7]
    )
    assert rejected == 1
    record = records[0]
    assert (record.exposure, record.image_type, record.temperature, record.stars) == (
        None, "FLAT", None, 12)  # fmt: skip
    assert record.filter is None and record.date_text is None


class _Float(float):
    """A float whose `float()` differs from itself: only the general reader calls it."""

    def __float__(self) -> float:
        return 99.0


class _Int(int):
    """An int whose `float()` differs from itself (an int is read through `float`)."""

    def __float__(self) -> float:
        return 99.0


#: Values of every type the image-record reader may meet, the usual ones at their edges.
_ODD_VALUES: list[Any] = [
    None, True, False, 0, 7, -3, 2**53, -(2**53), 2**53 + 1, -(2**53) - 1, 10**400,
    1.5, 12.0, -0.0, math.nan, math.inf, -math.inf, 1e308, _Float(2.5), _Int(3),
    "NaN", "Infinity", "-inf", " 12.5 ", "7", "", "   ", " light ", "ß", "\u00a0x\u2003",
    [], [1.0], {}, {"A": 1},
]  # fmt: skip


#: The general readers, which the inline reading of usual types must agree with.
_text, _number, _integer = wire._text, wire._number, wire._integer  # noqa: SLF001

#: The record's field of each key of an `ImageStatistics` object.
_FIELDS = {
    "ImageType": "image_type", "ExposureTime": "exposure", "Filter": "filter",
    "TargetName": "target", "CameraName": "camera", "TelescopeName": "telescope",
    "Date": "date_text", "Filename": "filename", "HFR": "hfr", "Stars": "stars",
    "RmsText": "rms_text", "Temperature": "temperature",
}  # fmt: skip


def _read_generally(key: str, value: Any) -> Any:
    """Read one value of an image record as the general readers do, whatever its type."""
    if key == "ImageType":
        text = _text(value)
        return text.upper() if text else None
    if key == "Stars":
        return _integer(value)
    if key in ("ExposureTime", "HFR", "Temperature"):
        return _number(value)
    return _text(value)


@pytest.mark.parametrize("key", _FIELDS)
def test_every_value_of_an_image_record_reads_as_its_general_reader_reads_it(key: str) -> None:
    """Test that the inline reading of usual types takes nothing the general readers refuse.

    Values of the usual types are read inline; a bool where an int is, an int past 2**53, a
    NaN float, a float subclass... must come out as `_text`, `_number`, `_integer` give them
    (type included), in a record with every key and in one with keys missing.
    """
    full = dict.fromkeys(_FIELDS, "x")
    for value in _ODD_VALUES:
        expected = _read_generally(key, value)
        for stats in ({**full, key: value}, {key: value}):
            read = getattr(parse_image_record(stats), _FIELDS[key])
            assert (type(read), repr(read)) == (type(expected), repr(expected)), value


def test_an_image_history_reads_records_the_same_whatever_their_mapping() -> None:
    """Test that a record as a dict, a dict with keys missing and a read-only mapping agree."""
    stats = {"ImageType": " light ", "ExposureTime": 180, "HFR": "NaN", "Stars": True}
    stats |= {"Temperature": -10.5, "Filter": "", "Date": "2026-11-24T19:00:00+01:00"}
    records, rejected = parse_image_history([stats, MappingProxyType(stats), None, "x", 3, [stats]])
    assert rejected == 4 and records[0] == records[1]
    assert (records[0].image_type, records[0].exposure, records[0].hfr) == ("LIGHT", 180.0, None)
    assert (records[0].stars, records[0].temperature, records[0].filter) == (None, -10.5, None)


def test_an_event_object_gives_its_data_without_event_and_time_in_its_order() -> None:
    """Test that a dict and a read-only mapping give the same event, keys in their order.

    A decoded dict's data is a copy of it less `Event` and `Time`; the item stays whole.
    """
    time = "2026-11-24T19:00:00+01:00"
    item = {"B": 1, "Event": " dither ", "A": {"C": [2]}, "Time": time, "Z": None}
    for response in (item, MappingProxyType(item)):
        event = parse_socket_message({"Response": response}, T0)
        assert (event.name, event.time_text) == ("DITHER", time)
        assert list(event.data.items()) == [("B", 1), ("A", {"C": [2]}), ("Z", None)]
    events, rejected = parse_event_history(
        [item, {"Time": time, "X": 1}, {"Event": "E", "Time": 5}]
    )
    assert [(event.name, dict(event.data)) for event in events] == [
        ("DITHER", {"B": 1, "A": {"C": [2]}, "Z": None})
    ]
    assert rejected == 2
    assert item["Event"] == " dither " and len(item) == 5  # the item itself is untouched
    with pytest.raises(FrameError, match="no Event name"):
        parse_socket_message({"Response": {"Time": time, "X": 1}}, T0)
    with pytest.raises(FrameError, match="time is int"):
        parse_socket_message({"Response": {"Event": "E", "Time": 5}}, T0)
