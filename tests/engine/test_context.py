"""The normalizer's context holds only while what taught it holds.

Context (target, filter, camera, telescope) fills in the names a frame's record lacks. A name
learned on one rig, night or NINA process must not reach another: a night without a filter
wheel after a night with one keeps its frames filterless ("none"), whether its frames come
live with their records or from history without them.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from custom_components.nina_session.engine.models import Source
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.wire import WireEvent
from simulator.night import Night, history_item, image_record, preset_night, to_rest
from tests.engine.conftest import OPTIONS
from tests.engine.frames import envelope, event, frames, image
from tests.engine.test_nights import live, open_pipeline
from tests.engine.test_real_rigs import _placeholders, history_time, item
from tests.engine.test_refold import _everything

_WHEEL_NIGHT = date(2026, 11, 24)


def _night_frames(pipeline: Pipeline, night: Night) -> list[Any]:
    """Return the stored frames of `night`, in time order."""
    return [
        e.frame
        for _, e in pipeline.store.iter_events()
        if e.frame is not None and night.start <= e.time <= night.end + timedelta(seconds=5)
    ]


def _session_of(pipeline: Pipeline, night: Night) -> dict[str, Any]:
    """Return the stored session that holds `night`'s first event."""
    starts = [
        s
        for s in pipeline.store.sessions(limit=50)
        if s["id"].startswith(night.spec.date.isoformat())
    ]
    assert len(starts) == 1, starts
    return starts[0]


def _truth(pipeline: Pipeline, path: Path) -> dict[str, Any]:
    """Return `_everything` a fold leaves but the checkpoints: which exist is cost, not truth.

    A fresh live fold takes none for its first session, a rebuild does; of two nights, the
    two saved with the state differ so.
    """
    everything = _everything(pipeline, path)
    everything["state"].pop("checkpoints")
    return everything


def test_a_night_without_a_wheel_after_one_with_keeps_its_frames_filterless(
    tmp_path: Path,
) -> None:
    """Test live frames of an OSC night after an LRGB scheduler night: all "none", as truth says.

    The LRGB night's last filter was carried into every frame of the next night before (their
    records say "": no wheel). The per-filter stats must equal the night's ground truth, and a
    late event's refold still equals a whole rebuild.
    """
    wheel = preset_night("target_scheduler", date=_WHEEL_NIGHT)
    osc = preset_night("osc", date=_WHEEL_NIGHT + timedelta(days=1))
    path = tmp_path / "rigs.db"
    pipeline = open_pipeline(path, wheel)
    live(pipeline, wheel.events)
    live(pipeline, osc.events)
    pipeline.flush()

    frames_ = _night_frames(pipeline, osc)
    assert len(frames_) == osc.truth.frames_total
    assert {f.filter for f in frames_} == {"none"}
    assert not any("filter" in f.inferred for f in frames_)
    session = _session_of(pipeline, osc)
    by_filter = session["frames"]["by_filter"]
    assert {k: v["count"] for k, v in by_filter.items()} == osc.truth.lights_by_filter
    assert {k: v["seconds"] for k, v in by_filter.items()} == osc.truth.light_seconds_by_filter
    assert set(_session_of(pipeline, wheel)["frames"]["by_filter"]) == set(wheel.spec.filters)

    # Refolds stay what a whole rebuild gives, the context saved with the state included.
    late_at = osc.events[len(osc.events) // 2].time + timedelta(seconds=0.5)
    pipeline.ingest([WireEvent("GUIDER-DITHER", {}, None, late_at)], Source.REPLAY)
    partial = _truth(pipeline, path)
    pipeline.rebuild()
    assert _truth(pipeline, path) == partial
    pipeline.store.close()


def test_a_new_nina_process_history_takes_no_filter_from_the_night_before(
    tmp_path: Path,
) -> None:
    """Test sparse history frames (no image records) of the next NINA process on a wheelless rig.

    The flats NINA's image history never recorded come as bare IMAGE-SAVEs: context is all
    that could name their filter, and the night before's wheel is not on this rig.
    """
    wheel = preset_night("target_scheduler", date=_WHEEL_NIGHT)
    no_wheel = preset_night("flats_unrecorded", date=_WHEEL_NIGHT + timedelta(days=1), filters=())
    pipeline = open_pipeline(tmp_path / "history.db", wheel)
    live(pipeline, wheel.events)
    history = [to_rest(history_item(e)) for e in no_wheel.events]
    saves = [e for e in no_wheel.events if e.name == "IMAGE-SAVE"]
    records = [to_rest(image_record(e)) for e in saves if e.in_image_history]
    pipeline.ingest_history(envelope(history), envelope(records))
    pipeline.flush()

    frames_ = _night_frames(pipeline, no_wheel)
    assert len(frames_) == no_wheel.truth.frames_total
    assert {(f.image_type, f.filter) for f in frames_} == {("FLAT", "none")}
    pipeline.store.close()


def test_a_filter_wheel_disconnected_or_connected_is_no_known_filter(pipeline: Pipeline) -> None:
    """Test that after FILTERWHEEL-DISCONNECTED (or CONNECTED) a bare frame gets no filter."""
    change = {"Previous": {"Name": "L", "Id": 0}, "New": {"Name": "R", "Id": 1}}
    history = [
        item("FILTERWHEEL-CHANGED", 0, **change),  # an older plugin: the names are real
        item("IMAGE-SAVE", 5),
        item("FILTERWHEEL-DISCONNECTED", 10),
        item("IMAGE-SAVE", 15),
        item("FILTERWHEEL-CHANGED", 20, **change),
        item("FILTERWHEEL-CONNECTED", 25),  # may sit at any filter: no change is sent for it
        item("IMAGE-SAVE", 30),
    ]
    pipeline.ingest_history(envelope(history), envelope([]))
    stored = [e.frame.filter for _, e in pipeline.store.iter_events() if e.frame is not None]
    assert stored == ["R", "none", "none"]


def test_a_target_holds_for_its_run_and_its_night(pipeline: Pipeline) -> None:
    """Test that a bare frame after SEQUENCE-FINISHED, or on the next night, has no target."""
    target = {"TargetName": "M 31", "ProjectName": "M 31 LRGB"}
    next_evening = 24 * 60.0
    history = [
        item("TS-NEWTARGETSTART", 0, utc=True, **target),
        item("IMAGE-SAVE", 5),
        item("SEQUENCE-FINISHED", 10),
        item("IMAGE-SAVE", 15),
        item("TS-TARGETSTART", 20, utc=True, **target),
        item("IMAGE-SAVE", 25),
        item("IMAGE-SAVE", next_evening),  # NINA ran on; no sequence event said it ended
    ]
    pipeline.ingest_history(envelope(history), envelope([]))
    stored = [e.frame.target for _, e in pipeline.store.iter_events() if e.frame is not None]
    assert stored == ["M 31", None, "M 31", None]


def test_a_restored_target_holds_for_the_night_going_on_not_the_next(db_path: Path) -> None:
    """Test that a target restored after a restart holds for the night going on, not the next.

    An older plugin's lights carry no TargetName: the one after the restart gets the target
    that night; the one the next evening did too before.
    """
    store = Store(db_path)
    first = Pipeline(store, OPTIONS)
    first.ingest_frames(frames((0, event("TS-NEWTARGETSTART", TargetName="M 31"))))
    first.flush()
    store.close()
    store = Store(db_path)
    reopened = Pipeline(store, OPTIONS)
    assert reopened.normalizer.snapshot()["target"] == "M 31"
    no_target = {"target": None, "image_type": None}
    reopened.ingest_frames(
        frames((10, image(5, **no_target)), (24 * 60, image(24 * 60 - 5, **no_target)))
    )
    stored = [e.frame.target for _, e in reopened.store.iter_events() if e.frame is not None]
    assert stored == ["M 31", None]
    store.close()


def test_a_filter_change_the_history_hides_makes_the_filter_unknown(pipeline: Pipeline) -> None:
    """Test that a FILTERWHEEL-CHANGED with placeholder names forgets the filter before it.

    Plugin 2.2.12.1+ writes `"New":{"Name":[],"Id":[]}` in history: the wheel moved, to a
    filter nobody can read. A bare frame after it was given the filter from before the move.
    """
    change = _placeholders({"Previous": {"Name": "L", "Id": 0}, "New": {"Name": "R", "Id": 1}})
    history = [item("IMAGE-SAVE", 5), item("FILTERWHEEL-CHANGED", 10, **change)]
    history.append(item("IMAGE-SAVE", 15))  # its record is missing from the image history
    record = {"ImageType": "FLAT", "Filter": "L", "ExposureTime": 2.0,
              "Date": history_time(4.9)}  # fmt: skip
    pipeline.ingest_history(envelope(history), envelope([record]))
    stored = [e.frame.filter for _, e in pipeline.store.iter_events() if e.frame is not None]
    assert stored == ["L", "none"]
