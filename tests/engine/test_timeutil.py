"""`nina_instant`: a history time and its POSIX microseconds, read as the general path reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
import random
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.errors import FrameError
from custom_components.nina_session.engine.models import Source
from custom_components.nina_session.engine.normalize import Normalizer
from custom_components.nina_session.engine.timeutil import nina_instant, parse_nina_time
from custom_components.nina_session.engine.wire import HistoryColumns, WireEvent, parse_image_record

BERLIN = ZoneInfo("Europe/Berlin")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _reference(text: str, zone: tzinfo, fold: int) -> tuple[datetime, float] | str:
    """Return what the general path gives: the UTC time and its timestamp, or the error."""
    try:
        moment = parse_nina_time(text, zone, fold=fold)
    except FrameError as err:
        return err.reason
    return moment, moment.timestamp()


def _instant(text: str, zone: tzinfo, fold: int) -> tuple[datetime, float] | str:
    try:
        moment, micros = nina_instant(text, zone, fold=fold)
    except FrameError as err:
        return err.reason
    assert micros == (moment - _EPOCH) // timedelta(microseconds=1)
    assert moment.tzinfo is UTC
    return moment, micros / 10**6


def _generated_texts(count: int) -> list[str]:
    """NINA-shaped times: many sharing an hour, every fraction length, odd offsets and shapes."""
    rng = random.Random(17)
    offsets = ["+01:00", "+02:00", "-05:00", "+00:00", "-00:00", "+05:30", "-03:30", "+14:00"]
    texts = []
    moment = datetime(2026, 10, 24, 20, 0)
    for _ in range(count):
        moment += timedelta(microseconds=rng.randrange(1, 900_000_000))
        if rng.random() < 0.05:  # another year now and then, the epoch's day among them
            moment = datetime(rng.choice((1970, 1999, 2024, 2038, 2100, 8999)), 1, 1) + (
                timedelta(seconds=rng.randrange(86_400 * 365))
            )
        digits = rng.choice((7, 7, 7, 6, 5, 4, 3, 2, 1, 0, 8, 9))
        ticks = f"{moment.microsecond:06d}{rng.randrange(10)}{rng.randrange(100):02d}"[:digits]
        local = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{ticks}" if digits else "")
        texts.append(local + rng.choice((*offsets, *offsets[:2] * 6, "Z", "")))
    return texts


#: Shapes a reader may get wrong: whitespace, another hour written oddly, no time, garbage.
_ODD_TEXTS = [
    "2026-11-24T19:00:00.1234567+01:00",
    "2026-11-24T19:00:00.0000000+01:00",
    "2026-11-24T19:00:00+01:00",
    "2026-11-24T19:00+01:00",
    "2026-11-24T19:00:00.1234567+01:00 ",
    " 2026-11-24T19:00:00.1234567+01:00",
    "2026-11-24T24:00:00+01:00",
    "2026-11-24T24:30:00+01:00",
    "2026-W48-2T19:00:00.1234567+01:00",
    "2026-W48-2T19:30:00+01:00",
    "20261124T193000+01:00",
    "2026-11-24T19:61:00.1234567+01:00",
    "2026-11-24T19:00:60+01:00",
    "2026-11-24T19:00:00.1234567+01:00+01:00",
    "2026-11-24T19:00:00+02:00+01:00",
    "2026-11-24T19Z+01:00",
    "2026-11-24T19:00:00,5+01:00",
    "2026-11-24 19:00:00.5+01:00",
    "2026-11-24T19:00:00.1234567+0100",
    "2026-11-24T19:00:00.1234567-00:00",
    "0001-01-01T00:00:00.0000000+01:00",
    "9999-12-31T23:59:59.9999999+01:00",
    "1970-01-01T00:30:00+01:00",
    "2026-10-25T02:30:00.1234567",
    "2026-03-29T02:30:00.1234567",
    "2026-11-24T19:00:00.1234567Z",
    "",
    "+01:00",
    "garbage text of some length+01:00",
]


@pytest.mark.parametrize("zone", [BERLIN, UTC])
def test_nina_instant_reads_every_text_as_the_general_path(zone: tzinfo) -> None:
    """Test that the time, its timestamp and a refusal are the general path's, for any text.

    Each text is read twice (the second reading may take the hour learned by the first) and
    after its neighbours (which teach the hours it shares), in both passes of a repeated hour.
    """
    texts = _generated_texts(3000) + _ODD_TEXTS
    for text in texts + texts + [text.replace("T19", "T18") for text in _ODD_TEXTS]:
        for fold in (0, 1):
            assert _instant(text, zone, fold) == _reference(text, zone, fold), text


def test_one_hour_written_with_two_offsets_reads_each_as_it_says() -> None:
    """Test an hour as written with two offsets (summer time ending), read turn about.

    The hour's table keeps one offset: the other reads the general way and takes its place,
    and neither ever reads as the other's time.
    """
    texts = [f"2026-10-25T02:{minute:02d}:07.1234567+0{2 - minute % 2}:00" for minute in range(8)]
    for text in texts + texts:
        assert _instant(text, BERLIN, 0) == _reference(text, BERLIN, 0), text
        moment = nina_instant(text, BERLIN)[0]
        assert moment == datetime.fromisoformat(text), text


def test_the_iso_text_read_with_a_time_is_the_times_own() -> None:
    """Test that the ISO text cut from a time's text is what formatting its reading gives.

    The same time and microseconds as without it, on the first reading of an hour (the
    general path) and on the next (the hour learned).
    """
    texts = _generated_texts(3000) + _ODD_TEXTS
    for text in texts + texts:
        try:
            moment, micros, iso = nina_instant(text, BERLIN, iso=True)
        except FrameError:
            continue
        assert iso == moment.replace(tzinfo=None).isoformat(), text
        assert (moment, micros) == nina_instant(text, BERLIN), text


def test_a_repeated_hour_reads_as_its_second_pass_once_time_would_go_back() -> None:
    """Test the history's rule for the hour summer time repeats, with POSIX microseconds.

    Offset-less (log-derived) times in 02:00-03:00 on the night summer time ends: the first
    pass until a time would go back, then the second; an offset time is what it says.
    """
    normalizer = Normalizer(BERLIN)
    normalizer.start_history()
    texts = [
        "2026-10-25T02:10:00.1234",
        "2026-10-25T02:50:00.5",
        "2026-10-25T02:20:00.25",  # earlier than 02:50: the second pass (+01:00)
        "2026-10-25T02:40:00+01:00",
        "2026-10-25T03:05:00",
    ]
    events = [
        normalizer.normalize(WireEvent("MOUNT-CENTER", {}, text, None), Source.HISTORY)
        for text in texts
    ]
    assert [event.time for event in events] == [
        datetime(2026, 10, 25, 0, 10, 0, 123400, UTC),
        datetime(2026, 10, 25, 0, 50, 0, 500000, UTC),
        datetime(2026, 10, 25, 1, 20, 0, 250000, UTC),
        datetime(2026, 10, 25, 1, 40, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 5, tzinfo=UTC),
    ]
    assert [event.ts for event in events] == [event.time.timestamp() for event in events]


def test_a_frames_capture_time_in_a_repeated_hour_reads_as_its_second_pass() -> None:
    """Test the same rule for history frames' capture times, with their fingerprint and key.

    A capture time is read with its ISO text (the fingerprint's), in its own order beside the
    events' times: the third frame's 02:20 follows 02:50, so it is the second pass.
    """
    normalizer = Normalizer(BERLIN)
    normalizer.start_history()
    dates = ["2026-10-25T02:10:00.1234", "2026-10-25T02:50:00.5", "2026-10-25T02:20:00.25"]
    records = [parse_image_record({"ImageType": "LIGHT", "Date": date}) for date in dates]
    saved = [f"2026-10-25T0{hour}:00:00+0{hour}:00" for hour in (3, 3, 2)]
    history = HistoryColumns(["IMAGE-SAVE"] * 3, list(saved), [None] * 3)
    events, refused = normalizer.normalize_history(history, records)
    taken = [
        datetime(2026, 10, 25, 0, 10, 0, 123400, UTC),
        datetime(2026, 10, 25, 0, 50, 0, 500000, UTC),
        datetime(2026, 10, 25, 1, 20, 0, 250000, UTC),
    ]
    assert refused == []
    assert [event.frame.taken_at for event in events if event.frame] == taken
    assert [event.fingerprint for event in events] == [
        "IMAGE-SAVE@" + moment.isoformat() for moment in taken
    ]
    assert [event.key for event in events] == [
        str((moment - _EPOCH) // timedelta(microseconds=1)) for moment in taken
    ]
