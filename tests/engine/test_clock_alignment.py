"""NINA's clock against ours (`ClockAlignment`), on a real SQLite file, without a pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from custom_components.nina_session.engine.clock_alignment import ClockAlignment
from custom_components.nina_session.engine.health import EventCounters
from custom_components.nina_session.engine.models import NinaEvent, Source
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.write_path import StoreWriter
from tests.engine.conftest import OPTIONS
from tests.engine.frames import at

NINA_AHEAD = 7.0  # seconds NINA's clock runs ahead of ours


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """Yield a fresh store; close it afterwards."""
    store = Store(db_path)
    yield store
    store.close()


def aligner(store: Store) -> ClockAlignment:
    """Return a clock alignment on `store` with the pipeline's default windows."""
    writer = StoreWriter(store, EventCounters(), OPTIONS.max_pending_bytes)
    return ClockAlignment(
        writer, EventCounters(), OPTIONS.dedup_window, OPTIONS.twin_window, OPTIONS.late_tolerance
    )


def frame(minutes: float, time: datetime, source: Source) -> NinaEvent:
    """Return the frame captured `minutes` after T0, stamped `time` (its capture identifies it)."""
    return NinaEvent(
        "IMAGE-SAVE", time, {}, source, f"IMAGE-SAVE@{at(minutes).isoformat()}", exact=True
    )


def plain(name: str, time: datetime, source: Source) -> NinaEvent:
    """Return an event with no identity of its own: its content fingerprint is its name."""
    return NinaEvent(name, time, {}, source, name, exact=False)


def nina(minutes: float) -> datetime:
    """Return NINA's reading of our time `minutes` after T0."""
    return at(minutes) + timedelta(seconds=NINA_AHEAD)


def test_the_offset_is_the_median_of_frame_twins_and_moves_history_read_before_it(
    store: Store,
) -> None:
    """Test that live frames met in stored history measure the offset by their median.

    One arrival stamp delayed by a stall (4 s) does not move it; the history stored on NINA's
    clock before the measurement moves onto ours.
    """
    history = [frame(m, nina(m), Source.HISTORY) for m in (5, 10, 15)]
    store.write_batch([(event, None, 0) for event in history], (), None)
    clock = aligner(store)
    delays = (0.03, 0.05, 4.0)
    live = [
        frame(m, at(m) + timedelta(seconds=d), Source.LIVE)
        for m, d in zip((5, 10, 15), delays, strict=True)
    ]
    assert clock.measure_live(live, Source.LIVE)
    assert clock.measured
    assert clock.offset == pytest.approx(NINA_AHEAD - 0.05)
    moved = sorted(ts for _, ts in store.times_from(Source.HISTORY).values())
    assert moved == pytest.approx([at(m).timestamp() + 0.05 for m in (5, 10, 15)])


def test_history_is_shifted_only_when_the_offset_exceeds_half_the_dedup_window(
    store: Store,
) -> None:
    """Test that history moves onto our clock by the offset, unless the offset is negligible.

    Within half the dedup window, the window itself absorbs it and stored times stay NINA's.
    """
    clock = aligner(store)
    events = [plain("GUIDER-DITHER", nina(1), Source.HISTORY)]
    clock.restore({"clock_offset": 0.3, "clock_measured": True})
    assert clock.align_history(events) == (events, False)
    clock.restore({"clock_offset": NINA_AHEAD, "clock_measured": True})
    aligned, moved = clock.align_history(events)
    assert not moved
    assert aligned[0].time == at(1)


def test_a_saved_offset_comes_back_and_an_old_state_without_the_flag_counts_as_measured(
    store: Store,
) -> None:
    """Test the round trip of the saved clock, and states saved before `clock_measured`."""
    clock = aligner(store)
    clock.restore({"clock_offset": 2.5, "clock_measured": False})
    assert aligner_from(store, clock.snapshot()).snapshot() == clock.snapshot()
    assert aligner_from(store, {"clock_offset": 2.5}).measured
    assert not aligner_from(store, {}).measured


def aligner_from(store: Store, saved: dict[str, object]) -> ClockAlignment:
    """Return a clock alignment restored from `saved`."""
    clock = aligner(store)
    clock.restore(saved)
    return clock
