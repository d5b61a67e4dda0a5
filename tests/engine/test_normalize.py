"""Normalizer: UTC times, sparse frames enriched from context."""

from __future__ import annotations

from datetime import UTC, datetime
import json
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.errors import FrameError
from custom_components.nina_session.engine.models import NinaEvent, Source
from custom_components.nina_session.engine.normalize import (
    Normalizer,
    pair_history_images,
    parse_rms_arcsec,
)
from custom_components.nina_session.engine.timeutil import parse_nina_time
from custom_components.nina_session.engine.wire import (
    HistoryColumns,
    WireEvent,
    parse_image_record,
    parse_socket_frame,
    read_event_history,
)
from tests.engine.frames import T0, event, image

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-24T19:00:00.1234567+01:00", datetime(2026, 11, 24, 18, 0, 0, 123456, UTC)),
        ("2026-11-24T18:00:00Z", datetime(2026, 11, 24, 18, 0, tzinfo=UTC)),
        # No offset: NINA's configured zone (CET in November), not a fixed UTC-5.
        ("2026-11-24T19:00:00", datetime(2026, 11, 24, 18, 0, tzinfo=UTC)),
        # Summer time is honoured for offset-less times too.
        ("2026-07-01T23:00:00", datetime(2026, 7, 1, 21, 0, tzinfo=UTC)),
        # Fewer fractional digits, none, a half-hour offset west, blanks around.
        ("2026-11-24T19:00:00.12345+01:00", datetime(2026, 11, 24, 18, 0, 0, 123450, UTC)),
        ("2026-11-24T19:00:00+01:00", datetime(2026, 11, 24, 18, 0, tzinfo=UTC)),
        ("2026-11-24T19:00:00.5-03:30", datetime(2026, 11, 24, 22, 30, 0, 500000, UTC)),
        (" 2026-11-24T19:00:00.1234567+01:00 ", datetime(2026, 11, 24, 18, 0, 0, 123456, UTC)),
    ],
)
def test_times_become_utc(text: str, expected: datetime) -> None:
    """Test that NINA times become UTC, offset-less ones read in NINA's zone with summer time."""
    for _ in range(2):  # the second reading takes the fast path for an offset seen before
        moment = parse_nina_time(text, BERLIN)
        assert moment == expected
        assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00.0000000+01:00",  # .NET's unset DateTime
        "2026-11-24T19:00:00.1234567+01:00+01:00",
        "2026-11-24T25:00:00.1234567+01:00",
    ],
)
def test_unreadable_times_are_refused_after_their_offset_was_seen(text: str) -> None:
    """Test that a time is refused even when a good one with its offset was read before."""
    parse_nina_time("2026-11-24T19:00:00.1234567+01:00", BERLIN)
    with pytest.raises(FrameError, match="bad_time"):
        parse_nina_time(text, BERLIN)


@pytest.mark.parametrize(
    ("text", "arcsec"),
    [('Tot: 0.62 (0.55")', 0.55), ("", None), ('Tot: 1,20 (0,98")', 0.98), ("n/a", None)],
)
def test_rms_text(text: str, arcsec: float | None) -> None:
    """Test that the total RMS in arcsec is read from RmsText, comma decimals too, else None."""
    assert parse_rms_arcsec(text) == arcsec


def _taught(normalizer: Normalizer) -> Normalizer:
    """Teach `normalizer` a scheduler target and a filter change, live."""
    for message in (
        event("TS-TARGETSTART", TargetName="NGC 7000", ProjectName="North America"),
        event("FILTERWHEEL-CHANGED", Previous={"Name": "Ha", "Id": 0}, New={"Name": "OIII", "Id": 1}),
    ):  # fmt: skip
        normalizer.normalize(parse_socket_frame(json.dumps(message), T0), Source.LIVE)
    return normalizer


def test_sparse_frame_takes_target_and_filter_from_earlier_events() -> None:
    """Test that a history IMAGE-SAVE with no record gets target and filter from context."""
    normalizer = _taught(Normalizer(BERLIN))
    sparse = WireEvent("IMAGE-SAVE", {}, "2026-11-24T19:05:00+01:00", None)
    frame = normalizer.normalize(sparse, Source.HISTORY).frame
    assert frame is not None
    assert (frame.target, frame.filter, frame.image_type) == ("NGC 7000", "OIII", "UNKNOWN")
    assert set(frame.inferred) == {"target", "filter", "image_type"}


def test_an_older_plugins_record_takes_only_target_and_type_from_context() -> None:
    """Test that a record lacking type and target gets them from context, but not a filter.

    The plugin always sends `Filter`, "" when there is no wheel: a record without one says the
    frame had none, and context learned on another rig or night must not fill it in.
    """
    normalizer = _taught(Normalizer(BERLIN))
    old_plugin = image(5, image_type=None, filter_name=None, target=None)
    result = normalizer.normalize(parse_socket_frame(json.dumps(old_plugin), T0), Source.LIVE)
    frame = result.frame
    assert frame is not None
    assert (frame.target, frame.filter, frame.image_type) == ("NGC 7000", "none", "LIGHT")
    assert set(frame.inferred) == {"target", "image_type"}
    assert result.exact and result.time == T0


def test_frame_with_own_context_infers_nothing() -> None:
    """Test that a complete IMAGE-SAVE infers nothing and reads its guiding RMS in arcsec."""
    result = Normalizer(BERLIN).normalize(parse_socket_frame(json.dumps(image(5)), T0), Source.LIVE)
    assert result.frame is not None and result.frame.inferred == ()
    assert result.frame.guiding_rms == 0.6


def _history(*names_times: tuple[str, str]) -> HistoryColumns:
    """Build a history read from (name, time) pairs."""
    return HistoryColumns.of([WireEvent(name, {}, time, None) for name, time in names_times], 0)


def test_history_frames_pair_by_order_when_counts_match() -> None:
    """Test that image records pair with IMAGE-SAVE events in order when the counts match."""
    events = _history(("SEQUENCE-STARTING", "2026-11-24T19:00:00+01:00"),
                      ("IMAGE-SAVE", "2026-11-24T19:05:02+01:00"),
                      ("IMAGE-SAVE", "2026-11-24T19:10:04+01:00"))  # fmt: skip
    records = [parse_image_record({"Date": "2026-11-24T19:00:01+01:00", "Filter": "R"}),
               parse_image_record({"Date": "2026-11-24T19:05:03+01:00", "Filter": "G"})]  # fmt: skip
    paired = pair_history_images(events, records, BERLIN)
    assert [r.filter if r else None for r in paired] == [None, "R", "G"]


def test_history_frames_pair_by_time_when_a_record_is_missing() -> None:
    """Test that with one image record missing, the others pair with their events by time."""
    events = _history(("IMAGE-SAVE", "2026-11-24T19:05:02+01:00"),
                      ("IMAGE-SAVE", "2026-11-24T19:10:04+01:00"),
                      ("IMAGE-SAVE", "2026-11-24T19:15:06+01:00"))  # fmt: skip
    # The first image's record is gone; the others must not shift onto the wrong events.
    records = [parse_image_record({"Date": "2026-11-24T19:10:04.1+01:00", "Filter": "G"}),
               parse_image_record({"Date": "2026-11-24T19:15:06.2+01:00", "Filter": "B"})]  # fmt: skip
    paired = pair_history_images(events, records, BERLIN)
    assert [r.filter if r else None for r in paired] == [None, "G", "B"]


def test_a_history_read_by_columns_normalizes_as_its_events_one_by_one() -> None:
    """Test that `normalize_history` gives the events and refusals `normalize` gives.

    Sparse items (a name and a time) are read without a `WireEvent`; the result must be the
    same event for every item: frames with and without a record, TS times in UTC, context
    learned from sparse and rich items, a bad time, and items that are no event.
    """
    items: list[object] = [
        {"Event": "sequence-starting ", "Time": "2026-11-24T19:00:00.1234567+01:00"},
        {"Event": "TS-NEWTARGETSTART", "TargetName": "M 31", "Time": "2026-11-24T18:01:00"},
        {"Event": "FILTERWHEEL-CHANGED", "Previous": {"Name": "R"}, "New": {"Name": "G"},
         "Time": "2026-11-24T19:02:00+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:05:02.5+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:10:04+01:00"},
        {"Event": "IMAGE-PREPARED", "Time": "2026-11-24T19:10:05.0000001+01:00"},
        {"Event": "GUIDER-DITHER", "Time": "not a time"},
        {"Event": "  ", "Time": "2026-11-24T19:11:00+01:00"},
        {"Event": 7, "Time": "2026-11-24T19:12:00+01:00"},
        {"Event": "SEQUENCE-FINISHED", "Time": "2026-11-24T19:13:00+01:00"},
        {"Event": "IMAGE-SAVE", "Time": "2026-11-24T19:14:00+01:00"},
        "no object",
    ]  # fmt: skip
    records = [
        parse_image_record({"Date": "2026-11-24T19:05:01.1234567+01:00", "Filter": "G"}),
        parse_image_record({"Date": "2026-11-24T19:10:03+01:00", "ImageType": "LIGHT"}),
    ]
    columns = read_event_history(items)
    images = pair_history_images(columns, records, BERLIN)
    by_columns = Normalizer(BERLIN)
    events, refused = by_columns.normalize_history(columns, images)
    one_by_one = Normalizer(BERLIN)
    expected: list[NinaEvent] = []
    reasons: list[tuple[str, str]] = []
    for wire, record in zip(columns.wire_events(), images, strict=True):
        try:
            expected.append(one_by_one.normalize(wire, Source.HISTORY, record))
        except FrameError as err:
            reasons.append((wire.name, err.reason))
    assert [(e, e.ts, e.key) for e in events] == [(e, e.ts, e.key) for e in expected]
    assert (
        [(name, err.reason) for name, err in refused] == reasons == [("GUIDER-DITHER", "bad_time")]
    )
    assert columns.rejected == 3
    assert by_columns.snapshot() == one_by_one.snapshot()
