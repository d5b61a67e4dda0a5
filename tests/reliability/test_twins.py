"""Live events and their history twins must collapse to one, whatever the wire shape.

The findings here came out of the soak and the fuzzing; each was a minimal failing test
before the engine was fixed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from custom_components.nina_session.engine.pipeline import Pipeline, PipelineOptions
from custom_components.nina_session.engine.store import Store
from simulator.night import (
    SimEvent,
    history_item,
    image_record,
    net_time,
    preset_night,
    socket_text,
    to_rest,
)

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 24, 21, 0, tzinfo=BERLIN)


@pytest.fixture
def pipeline(tmp_path: Path) -> Pipeline:
    """Return a pipeline for rig1 in Berlin on a new database."""
    return Pipeline(Store(tmp_path / "twins.db"), PipelineOptions("rig1", BERLIN))


def live(pipeline: Pipeline, events: list[SimEvent]) -> None:
    """Ingest `events` as live frames, each received 30 ms after it happened."""
    pipeline.ingest_frames([(socket_text(e), e.time + timedelta(milliseconds=30)) for e in events])


def backfill(pipeline: Pipeline, events: list[SimEvent], images: list[SimEvent]) -> None:
    """Ingest `events` and `images` as NINA's REST history."""
    pipeline.ingest_history(
        {"Response": [to_rest(history_item(e)) for e in events], "Success": True},
        {"Response": [to_rest(image_record(e)) for e in images], "Success": True},
    )


def test_plain_twins_collapse(pipeline: Pipeline) -> None:
    """Test that plain events seen live and again in the history are stored once."""
    events = [
        SimEvent(T0, "SEQUENCE-STARTING"),
        SimEvent(T0 + timedelta(seconds=5), "FILTERWHEEL-CHANGED",
                 {"Previous": {"Name": "L", "Id": 0}, "New": {"Name": "Ha", "Id": 1}}),
        SimEvent(T0 + timedelta(seconds=9), "AUTOFOCUS-POINT-ADDED", {"HFR": 2.5, "Position": 3}),
    ]  # fmt: skip
    live(pipeline, events)
    backfill(pipeline, events, [])
    assert pipeline.store.counts()["events"] == 3


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("FILTERWHEEL-CHANGED", {"Previous": None, "New": {"Name": "Ha", "Id": 1}}),
        ("SEQUENCE-ENTITY-FAILED", {"Entity": "Center", "Error": None}),
        ("AUTOFOCUS-POINT-ADDED", {"HFR": float("nan"), "Position": 11500}),
    ],
)
def test_twins_with_null_or_nan_members_collapse(
    pipeline: Pipeline, name: str, data: dict[str, object]
) -> None:
    """Test that twins with a null or NaN member in their data are stored once."""
    event = SimEvent(T0, name, data)
    live(pipeline, [event])
    backfill(pipeline, [event], [])
    assert pipeline.store.counts()["events"] == 1


def _bias_run(count: int, every: float) -> list[SimEvent]:
    """Bias frames `every` seconds apart (a fast CMOS camera), Date = when saved."""
    frames = []
    for index in range(count):
        saved = T0 + timedelta(seconds=10 + every * index)
        stats = {"ExposureTime": 0.0, "ImageType": "BIAS", "Filter": "L",
                 "Date": net_time(saved - timedelta(microseconds=300)),
                 "Filename": f"bias_{index:04d}.fits"}  # fmt: skip
        frames.append(SimEvent(saved, "IMAGE-SAVE", {"ImageStatistics": stats}))
    return frames


@pytest.mark.parametrize("every", [2.0, 1.2])
def test_a_frame_saved_between_the_two_history_reads_is_paired_right(
    pipeline: Pipeline, every: float
) -> None:
    """Test that a frame saved between the two history reads is paired with its own record."""
    frames = _bias_run(12, every)
    start = SimEvent(T0, "SEQUENCE-STARTING")
    # /event-history is read, a frame is saved, then /image-history: one record more.
    backfill(pipeline, [start, *frames[:-1]], frames)
    backfill(pipeline, [start, *frames], frames)  # the next reconnect
    session = pipeline.store.sessions()[0]
    assert session["frames"]["by_type"] == {"BIAS": 12}
    assert pipeline.store.counts()["events"] == 13


def test_a_racing_backfill_of_fast_frames_pairs_each_save_with_its_own_record(
    pipeline: Pipeline,
) -> None:
    """Test that a racing backfill of fast frames pairs each save with its own record."""
    frames = _bias_run(20, 0.4)
    start = SimEvent(T0, "SEQUENCE-STARTING")
    backfill(pipeline, [start, *frames[:-1]], frames)
    session = pipeline.store.sessions()[0]
    assert session["frames"]["by_type"] == {"BIAS": 19}
    backfill(pipeline, [start, *frames], frames)  # the next reconnect: now complete
    session = pipeline.store.sessions()[0]
    assert session["frames"]["by_type"] == {"BIAS": 20}
    assert pipeline.store.counts()["events"] == 21
    assert abs(pipeline.clock.offset) < 0.1


def test_a_racing_backfill_after_live_fast_frames_adds_nothing(pipeline: Pipeline) -> None:
    """Test that a racing backfill after the same fast frames came live adds nothing."""
    frames = _bias_run(20, 0.4)
    start = SimEvent(T0, "SEQUENCE-STARTING")
    live(pipeline, [start, *frames])
    backfill(pipeline, [start, *frames[:-1]], frames)
    assert pipeline.store.counts()["events"] == 21
    assert pipeline.store.sessions()[0]["frames"]["by_type"] == {"BIAS": 20}
    assert abs(pipeline.clock.offset) < 0.1


def test_a_live_event_stamped_late_meets_its_history_twin(pipeline: Pipeline) -> None:
    """Test that an event read 4 s late (our loop blocked) is stored once, in NINA's order.

    Its stamp is far outside the dedup window, and after the event it overtook; the backfill
    pairs it with its history copy anyway (same content, one to one, in order) and moves it
    back into place. The two dithers stay two.
    """

    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    night = [SimEvent(at(0), "SEQUENCE-STARTING"), SimEvent(at(5), "GUIDER-START"),
             SimEvent(at(20), "GUIDER-DITHER"), SimEvent(at(22), "AUTOFOCUS-STARTING"),
             SimEvent(at(40), "GUIDER-DITHER"), SimEvent(at(60), "SEQUENCE-FINISHED")]  # fmt: skip
    stamps = [e.time + timedelta(milliseconds=30) for e in night]
    stamps[2] = at(24)  # read after the autofocus start
    pipeline.ingest_frames([(socket_text(e), t) for e, t in zip(night, stamps, strict=True)])
    for _ in range(2):  # a reconnect, then the periodic reconcile
        backfill(pipeline, night, [])
    stored = [event.name for _, event in pipeline.store.iter_events()]
    assert stored == [e.name for e in night]
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == 2


def test_a_late_live_event_whose_history_came_first_is_dropped_by_the_next_read(
    pipeline: Pipeline,
) -> None:
    """Test that a late live copy of an event already read from history goes at the next read.

    The dither is sent as the socket opens; the backfill reads it from history first, then our
    loop reads the live copy 4 s late: stored twice for now. The next history read (reconcile
    or reconnect) finds the live row unpaired, meets it with the stored history copy, drops it.
    """

    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    night = [SimEvent(at(0), "SEQUENCE-STARTING"), SimEvent(at(5), "GUIDER-START"),
             SimEvent(at(20), "GUIDER-DITHER"), SimEvent(at(40), "GUIDER-DITHER"),
             SimEvent(at(60), "SEQUENCE-FINISHED")]  # fmt: skip
    backfill(pipeline, night[:3], [])
    pipeline.ingest_frames([(socket_text(night[2]), at(24))])
    pipeline.ingest_frames(
        [(socket_text(e), e.time + timedelta(milliseconds=30)) for e in night[3:]]
    )
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == 3  # the late copy, for now
    backfill(pipeline, night, [])
    stored = [event.name for _, event in pipeline.store.iter_events()]
    assert stored == [e.name for e in night]
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == 2


def test_a_late_copy_pairs_with_its_own_history_event_not_a_later_repeat(
    pipeline: Pipeline,
) -> None:
    """Test that a late live copy pairs with its own history event, not a repeat after it.

    Found by the soak (seed 10, a stall): IMAGE-PREPARED has the same empty content for every
    frame. One is read 1.5 s late, then the next frame and IMAGE-PREPARED arrive, and one more
    arrives while history is being read (history ends before it). That last arrival has no
    twin in this read and must not pass for the late copy: its frames came after the late one.
    """
    frames = _bias_run(6, 3.0)
    night = [SimEvent(T0, "SEQUENCE-STARTING")]
    for frame in frames:
        night += [frame, SimEvent(frame.time + timedelta(milliseconds=3), "IMAGE-PREPARED")]
    stamps = [event.time + timedelta(milliseconds=30) for event in night]
    stamps[6] += timedelta(seconds=1.5)  # the third IMAGE-PREPARED: our loop was blocked
    assert stamps[6] < stamps[7]  # and still read before the frame NINA sent after it
    pipeline.ingest_frames([(socket_text(e), t) for e, t in zip(night[:11], stamps, strict=False)])
    backfill(pipeline, night[:10], frames[:5])  # read before the fifth IMAGE-PREPARED
    pipeline.ingest_frames(
        [(socket_text(e), t) for e, t in zip(night[11:], stamps[11:], strict=True)]
    )
    backfill(pipeline, night, frames)  # the next read has all of it
    stored = [event.name for _, event in pipeline.store.iter_events()]
    assert stored == [e.name for e in night]


def _measured_evening(pipeline: Pipeline) -> datetime:
    """Play an evening up to its first frame live and from history: the clock is measured.

    Returns the time of that frame.
    """
    night = preset_night("simple")
    k = next(i for i, e in enumerate(night.events) if e.name == "IMAGE-SAVE")
    evening = night.events[: k + 1]
    live(pipeline, evening)
    backfill(pipeline, evening, [evening[-1]])
    assert pipeline.clock.measured
    return evening[-1].time


def test_a_live_frame_on_an_unmeasured_clock_asks_for_history_once_per_connection(
    pipeline: Pipeline,
) -> None:
    """Test that the first live frame on an unmeasured clock asks for a history read, once.

    That read measures NINA's clock from the frame's history copy (the engine does it at the
    next tick instead of the periodic read). A read that cannot measure it is not asked for
    again on the same connection: the periodic read takes over.
    """
    events = preset_night("simple").events
    saves = [i for i, e in enumerate(events) if e.name == "IMAGE-SAVE"]
    pipeline.clock.socket_opened(events[0].time)
    live(pipeline, events[: saves[0]])
    assert not pipeline.history_wanted  # no frame yet: nothing to measure with
    live(pipeline, events[saves[0] : saves[1]])
    assert pipeline.history_wanted
    backfill(pipeline, events[: saves[0]], [])  # a read without the frame: still unmeasured
    assert not pipeline.clock.measured
    assert not pipeline.history_wanted
    live(pipeline, events[saves[1] : saves[2]])
    assert not pipeline.history_wanted  # asked once on this connection
    pipeline.clock.socket_opened(events[saves[2]].time)
    live(pipeline, events[saves[2] : saves[2] + 1])
    assert pipeline.history_wanted
    backfill(pipeline, events[: saves[2] + 1], [events[i] for i in saves])
    assert pipeline.clock.measured
    assert not pipeline.history_wanted


def test_a_late_live_copy_of_a_stored_history_event_is_dropped_at_once(
    pipeline: Pipeline,
) -> None:
    """Test that a live copy read 4 s late, after its history copy was stored, counts once now.

    The socket reopens; a dither is sent just after, the backfill stores it from history, and
    our blocked loop reads its live copy 4 s late: no window meets it, but it is the first
    live copy of a history row from after the socket opened, so it is that row's copy.
    """
    frame = _measured_evening(pipeline)
    before = pipeline.store.sessions()[0]["counts"]["dithers"]
    pipeline.clock.socket_opened(frame + timedelta(seconds=10))
    dither = SimEvent(frame + timedelta(seconds=12), "GUIDER-DITHER")
    backfill(pipeline, [dither], [])
    pipeline.ingest_frames([(socket_text(dither), dither.time + timedelta(seconds=4))])
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == before + 1  # not +2
    later = SimEvent(frame + timedelta(seconds=30), "GUIDER-DITHER")
    live(pipeline, [later])  # a new dither within the tolerance: its own event
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == before + 2


def test_an_on_time_copy_claims_its_history_row_so_the_next_dither_counts(
    pipeline: Pipeline,
) -> None:
    """Test that a history row met by its on-time live copy is not claimed by the next event.

    The dither's live copy arrives in the window (deduplicated against the stored history
    row); a second dither 15 s later, inside the late tolerance of that row, is a new event.
    """
    frame = _measured_evening(pipeline)
    before = pipeline.store.sessions()[0]["counts"]["dithers"]
    pipeline.clock.socket_opened(frame + timedelta(seconds=10))
    first = SimEvent(frame + timedelta(seconds=12), "GUIDER-DITHER")
    backfill(pipeline, [first], [])
    live(pipeline, [first, SimEvent(frame + timedelta(seconds=27), "GUIDER-DITHER")])
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == before + 2


def test_a_refold_keeps_a_session_the_idle_clock_closed(pipeline: Pipeline) -> None:
    """Test that a refold after the idle clock closed the session leaves it closed.

    A fold of the stored events leaves the last session open (only the clock closes it). A
    history read that refolds the night afterwards (a dither lost live turns up) must not
    reopen it: the next tick would announce its end a second time.
    """
    night = preset_night("simple")
    events = night.events
    lost = next(i for i, e in enumerate(events) if e.name == "GUIDER-DITHER")
    live(pipeline, [e for i, e in enumerate(events) if i != lost])
    closed = pipeline.close_if_idle(events[-1].time + 3 * pipeline.options.idle_gap)
    assert closed is not None
    backfill(pipeline, events, [e for e in events if e.name == "IMAGE-SAVE"])
    assert pipeline.current_session() is None
    stored = pipeline.store.session(closed.id)
    assert stored is not None
    assert stored["end"] == closed.to_json(pipeline.state)["end"]
    assert stored["counts"]["dithers"] == night.truth.dithers  # the refold took the lost one
    assert pipeline.close_if_idle(events[-1].time + 4 * pipeline.options.idle_gap) is None


def _filter_change(at: datetime, old: str, new: str) -> SimEvent:
    ids = {"L": 0, "R": 1, "G": 2, "B": 3}
    data = {"Previous": {"Name": old, "Id": ids[old]}, "New": {"Name": new, "Id": ids[new]}}
    return SimEvent(at, "FILTERWHEEL-CHANGED", data)


def _hidden(event: SimEvent) -> dict[str, object]:
    """Return the history item of `event` as plugin 2.2.12.1+ writes it: names hidden."""
    return {
        **history_item(event),
        "Previous": {"Name": [], "Id": []},
        "New": {"Name": [], "Id": []},
    }


def _filter_changes(pipeline: Pipeline) -> int:
    return sum(e.name == "FILTERWHEEL-CHANGED" for _, e in pipeline.store.iter_events())


def test_a_filter_change_after_one_whose_live_copy_was_lost_is_kept(
    pipeline: Pipeline,
) -> None:
    """Test filter changes under history placeholders: a lost live copy takes no later change.

    The socket loses R→G; the backfill stores it from a history that hides its names; G→B
    then arrives live 20 s later. With the names hidden the two cannot be told apart, so G→B
    is never taken for R→G's late copy: both are kept.
    """
    frame = _measured_evening(pipeline)
    pipeline.clock.socket_opened(frame + timedelta(seconds=10))
    lost = _filter_change(frame + timedelta(seconds=12), "R", "G")
    pipeline.ingest_history({"Response": [_hidden(lost)], "Success": True}, {"Response": []})
    live(pipeline, [_filter_change(frame + timedelta(seconds=32), "G", "B")])
    assert _filter_changes(pipeline) == 2


def test_a_repeat_after_a_late_copy_went_is_its_own_event(pipeline: Pipeline) -> None:
    """Test that a history row whose late live copy a read dropped takes no later repeat.

    As in the test above, the dither's live copy is read 4 s late and the next history read
    drops it. A new dither 10 s after the first, read live, then a history read from just
    before it was sent: the new dither is its own, not a second late copy of the first one.
    """

    def at(seconds: float) -> datetime:
        return T0 + timedelta(seconds=seconds)

    night = [SimEvent(at(0), "SEQUENCE-STARTING"), SimEvent(at(5), "GUIDER-START"),
             SimEvent(at(20), "GUIDER-DITHER")]  # fmt: skip
    backfill(pipeline, night, [])
    pipeline.ingest_frames([(socket_text(night[2]), at(24))])
    backfill(pipeline, night, [])  # drops the late copy
    repeat = SimEvent(at(30), "GUIDER-DITHER")
    live(pipeline, [repeat])
    backfill(pipeline, night, [])  # read just before the repeat was sent
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == 2
    backfill(pipeline, [*night, repeat], [])
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == 2


@pytest.mark.parametrize("history_first", [False, True])
def test_with_no_dedup_window_a_live_copy_just_before_history_is_still_its_copy(
    tmp_path: Path, history_first: bool
) -> None:
    """Test that a dedup window of 0 (merge no identical live events) still pairs the copies.

    Frames arrive 30 ms after NINA saw them, so history moves 30 ms onto our clock; a
    dither read after 25 ms then lies 5 ms *before* its history copy. Both directions (history
    read after the live copy, or before it) must store it once: with a window of 0 it was
    stored twice, and a later repeat was taken for a late copy of the extra row and lost.
    """
    options = PipelineOptions("rig1", BERLIN, dedup_window=timedelta(0))
    pipeline = Pipeline(Store(tmp_path / "zero.db"), options)
    frame = _measured_evening(pipeline)
    assert pipeline.clock.offset == pytest.approx(-0.03)
    before = pipeline.store.sessions()[0]["counts"]["dithers"]
    pipeline.clock.socket_opened(frame + timedelta(seconds=10))
    dither = SimEvent(frame + timedelta(seconds=12), "GUIDER-DITHER")
    read_live = [(socket_text(dither), dither.time + timedelta(milliseconds=25))]
    if history_first:
        backfill(pipeline, [dither], [])
        pipeline.ingest_frames(read_live)
    else:
        pipeline.ingest_frames(read_live)
        backfill(pipeline, [dither], [])
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == before + 1
    repeat = SimEvent(frame + timedelta(seconds=14), "GUIDER-DITHER")
    live(pipeline, [repeat])  # two seconds later: its own event
    backfill(pipeline, [dither, repeat], [])
    assert pipeline.store.sessions()[0]["counts"]["dithers"] == before + 2
