"""History's order for live events stored out of order (engine/retime.py), and Store.retime."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from custom_components.nina_session.engine.late_copies import match_late_twins
from custom_components.nina_session.engine.models import NinaEvent, Source, event_key
from custom_components.nina_session.engine.retime import (
    Twin,
    corrected_times,
    match_twins,
    out_of_order,
)
from custom_components.nina_session.engine.store import Store


def twins(*pairs: tuple[float, float]) -> list[Twin]:
    """Return twins named a, b, c… from (stored, history) time pairs."""
    return [Twin(chr(ord("a") + i), stored, hist) for i, (stored, hist) in enumerate(pairs)]


def test_in_order_twins_stay() -> None:
    """Test that twins stored in history's order, with any delays, are left alone."""
    assert corrected_times(twins((10.04, 10.0), (10.09, 10.05), (20.5, 20.0))) == {}


def test_a_swapped_pair_moves_to_history_plus_the_typical_delay() -> None:
    """Test that two events swapped on the wire move to history's times plus the median delay."""
    found = twins((1.04, 1.0), (5.051, 5.0), (5.04, 5.03), (9.04, 9.0))
    assert {t.key for t in out_of_order(found)} == {"b", "c"}
    moved = corrected_times(found)
    assert moved.keys() == {"b", "c"}
    assert moved["b"] < moved["c"]
    assert abs(moved["b"] - 5.04) < 1e-9 and abs(moved["c"] - 5.07) < 1e-9


def test_equal_history_times_say_nothing_about_order() -> None:
    """Test that twins with the same history time are never called out of order."""
    assert out_of_order(twins((3.2, 3.0), (3.1, 3.0), (4.0, 3.9))) == []


def test_a_late_delivery_moves_back_between_its_neighbours() -> None:
    """Test that a late delivery and the event it overtook move, and nothing else does."""
    found = twins((1.04, 1.0), (2.04, 2.0), (3.9, 2.5), (3.04, 3.0), (4.04, 4.0))
    moved = corrected_times(found)
    assert moved.keys() == {"c", "d"}
    assert 2.04 < moved["c"] < moved["d"] < 4.04


def _event(name: str, at: datetime, *, exact: bool = False) -> NinaEvent:
    fingerprint = f"{name}@frame" if exact else f"{name}#0001"
    return NinaEvent(name, at, {}, Source.LIVE, fingerprint, exact)


def test_store_retime_rekeys_loose_events_and_keeps_frame_keys(tmp_path: Path) -> None:
    """Test that Store.retime moves times, re-keys time-keyed events and keeps frame keys."""
    store = Store(tmp_path / "retime.db")
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    loose, frame = _event("GUIDER-START", at), _event("IMAGE-SAVE", at, exact=True)
    store.write_batch([(loose, None, 0), (frame, None, 0)], (), None)
    later = (at + timedelta(seconds=2)).timestamp()
    moved = store.retime({loose.key: later, frame.key: later, "missing@1": later})
    assert sorted(moved) == sorted([event_key("GUIDER-START#0001", False, later), frame.key])
    moved = {e.name: e for _, e in store.iter_events()}
    assert moved["GUIDER-START"].time.timestamp() == later
    assert moved["IMAGE-SAVE"].time.timestamp() == later
    assert moved["GUIDER-START"].key == event_key("GUIDER-START#0001", False, later)
    assert store.existing_keys([loose.key, frame.key]) == {frame.key}
    assert store.counts()["events"] == 2


def test_store_retime_onto_an_identical_event_keeps_one(tmp_path: Path) -> None:
    """Test that moving an event onto its identical twin (same content, same ms) keeps one."""
    store = Store(tmp_path / "retime-same.db")
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    first, second = _event("DITHER", at), _event("DITHER", at + timedelta(seconds=5))
    store.write_batch([(first, None, 0), (second, None, 0)], (), None)
    assert store.retime({second.key: at.timestamp()}) == [first.key]
    assert store.counts()["events"] == 1


def test_match_twins_pairs_frames_by_key_and_others_within_the_window() -> None:
    """Test that frames pair by key, others by fingerprint in the window, each live row once."""
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    frame = _event("IMAGE-SAVE", at, exact=True)
    first = _event("DITHER", at + timedelta(seconds=10))
    second = _event("DITHER", at + timedelta(seconds=10.4))
    far = _event("DITHER", at + timedelta(seconds=30))
    base = at.timestamp()
    live = {
        frame.key: (frame.fingerprint, base + 0.05),
        "DITHER#0001@a": ("DITHER#0001", base + 10.05),
        "DITHER#0001@b": ("DITHER#0001", base + 10.45),
    }
    pairs = match_twins([frame, first, second, far], live, window=1.0)
    assert [event for event, _ in pairs] == [frame, first, second]
    twins = [twin for _, twin in pairs]
    assert {t.key: round(t.stored_ts - base, 2) for t in twins} == {
        frame.key: 0.05,
        "DITHER#0001@a": 10.05,
        "DITHER#0001@b": 10.45,
    }
    assert {t.key: round(t.history_ts - base, 2) for t in twins} == {
        frame.key: 0.0,
        "DITHER#0001@a": 10.0,
        "DITHER#0001@b": 10.4,
    }


def test_store_drop_twins_removes_only_what_a_live_event_duplicates(tmp_path: Path) -> None:
    """Test that drop_twins deletes the given events a live twin duplicates, and no others."""
    store = Store(tmp_path / "twins.db")
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    live_one = _event("DITHER", at)
    history_twin = replace(_event("DITHER", at + timedelta(seconds=0.2)), source=Source.HISTORY)
    history_alone = replace(_event("DITHER", at + timedelta(seconds=9)), source=Source.HISTORY)
    frame = replace(_event("IMAGE-SAVE", at, exact=True), source=Source.HISTORY)
    rows = [(e, None, 0) for e in (live_one, history_twin, history_alone, frame)]
    store.write_batch(rows, (), None)
    keys = [history_twin.key, history_alone.key, frame.key]
    assert store.drop_twins(keys, Source.LIVE, window=1.0) == 1
    assert store.existing_keys([live_one.key, *keys]) == {
        live_one.key,
        history_alone.key,
        frame.key,
    }
    assert store.counts()["events"] == 3


def _history(*seconds: float, name: str = "GUIDER-DITHER") -> list[NinaEvent]:
    """Return plain history events of one fingerprint at T + `seconds` (on our clock)."""
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    return [
        NinaEvent(name, at + timedelta(seconds=s), {}, Source.HISTORY, f"{name}#0001", False)
        for s in seconds
    ]


def _arrivals(*seconds: float, name: str = "GUIDER-DITHER") -> dict[str, tuple[str, float]]:
    """Return stored live rows (key -> fingerprint, time) of one fingerprint at T + `seconds`."""
    base = datetime(2026, 11, 24, 22, 0, tzinfo=UTC).timestamp()
    fingerprint = f"{name}#0001"
    return {event_key(fingerprint, False, base + s): (fingerprint, base + s) for s in seconds}


def _paired(pairs: list[tuple[NinaEvent, Twin]]) -> list[tuple[float, float]]:
    """Return the (history, stored) offsets from T of each pair, by history time."""
    base = datetime(2026, 11, 24, 22, 0, tzinfo=UTC).timestamp()
    return sorted(
        (round(event.time.timestamp() - base, 3), round(twin.stored_ts - base, 3))
        for event, twin in pairs
    )


def test_a_late_stamped_live_event_pairs_with_its_history_copy() -> None:
    """Test that an event stamped 4 s late (our loop blocked) still meets its history twin."""
    assert _paired(match_late_twins(_history(10.0), _arrivals(14.0), 1.0, 30.0)) == [(10.0, 14.0)]


def test_late_pairs_stay_within_the_tolerance_and_never_pair_a_later_event() -> None:
    """Test that history after the arrival (beyond the window) or too long before stays new."""
    assert match_late_twins(_history(20.0), _arrivals(14.0), 1.0, 30.0) == []
    assert match_late_twins(_history(10.0), _arrivals(45.0), 1.0, 30.0) == []
    other = _history(10.0, name="GUIDER-START")
    assert match_late_twins(other, _arrivals(12.0), 1.0, 30.0) == []


def test_late_pairs_are_one_to_one_and_the_closest() -> None:
    """Test that repeats pair one to one, each with the closest earlier history event.

    The dither at 0 s was lost live, the one at 10 s arrived 3 s late: only the latter pairs,
    and the lost one stays new.
    """
    assert _paired(match_late_twins(_history(0.0, 10.0), _arrivals(13.0), 1.0, 30.0)) == [
        (10.0, 13.0)
    ]
    both = match_late_twins(_history(0.0, 10.0), _arrivals(3.0, 13.0), 1.0, 30.0)
    assert _paired(both) == [(0.0, 3.0), (10.0, 13.0)]


def test_late_pairs_skip_frames() -> None:
    """Test that frames (exact identity) are never paired by time."""
    at = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    frame = NinaEvent("IMAGE-SAVE", at, {}, Source.HISTORY, "IMAGE-SAVE@f", True)
    live = {"IMAGE-SAVE@f": ("IMAGE-SAVE@f", at.timestamp() + 3)}
    assert match_late_twins([frame], live, 1.0, 30.0) == []


def _twin(name: str, stored: float, history: float) -> Twin:
    """Return an already paired twin (a frame, say) at T + the given seconds."""
    base = datetime(2026, 11, 24, 22, 0, tzinfo=UTC).timestamp()
    return Twin(name, base + stored, base + history)


def test_a_late_pair_keeps_the_order_of_the_twins_around_it() -> None:
    """Test that an arrival after a later event's live twin is not an earlier event's late copy.

    History has the event at 10 s; it arrived 2 s late (12 s), before the frame NINA saved at
    13 s. The arrival at 14 s came after that frame: it is a repeat history has not got yet.
    """
    frame = _twin("frame", 13.03, 13.0)
    pairs = match_late_twins(_history(10.0), _arrivals(12.0, 14.0), 1.0, 30.0, [frame])
    assert _paired(pairs) == [(10.0, 12.0)]
    # Without the frame, the closest (latest) pairing is all there is to go by.
    assert _paired(match_late_twins(_history(10.0), _arrivals(12.0, 14.0), 1.0, 30.0)) == [
        (10.0, 14.0)
    ]


def test_a_late_pair_that_crosses_a_twin_is_made_when_nothing_else_fits() -> None:
    """Test that a late copy NINA sent after a later event still pairs when it is the only one.

    The event at 10 s arrived at 14 s, after the live twin of NINA's 12 s event: NINA's own
    send was late. No arrival keeps the order, so the crossing one pairs: it is the copy.
    """
    other = _twin("other", 12.03, 12.0)
    pairs = match_late_twins(_history(10.0), _arrivals(14.0), 1.0, 30.0, [other])
    assert _paired(pairs) == [(10.0, 14.0)]


def test_late_pairs_in_a_row_keep_the_order_of_the_twins() -> None:
    """Test that two late copies of one content each pair in order; the repeat after stays."""
    frame = _twin("frame", 25.03, 25.0)
    pairs = match_late_twins(_history(10.0, 20.0), _arrivals(12.0, 22.0, 27.0), 1.0, 30.0, [frame])
    assert _paired(pairs) == [(10.0, 12.0), (20.0, 22.0)]
