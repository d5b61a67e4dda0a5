"""What real rigs send (plugin 2.2.15, Target Scheduler nights) and the session it must give.

Each test is one fact of /work/shared/nina-protocol.md "Real rigs", driven through the real
pipeline on a real SQLite file.
"""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
import json
from pathlib import Path
import sqlite3
from typing import Any

from custom_components.nina_session.engine.fsm import SessionState
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.reports import legacy_view
from custom_components.nina_session.engine.store import MIGRATIONS, Store
from tests.engine.conftest import OPTIONS
from tests.engine.frames import at, envelope, event, frames, image

_LOCAL = timedelta(hours=1)  # Europe/Berlin in November


def history_time(minutes: float, *, utc: bool = False) -> str:
    """NINA's history `Time` for `minutes` after T0: local with offset, or naive UTC (TS-*)."""
    moment = at(minutes)
    if utc:
        return moment.replace(tzinfo=None).isoformat()
    return (moment + _LOCAL).replace(tzinfo=None).isoformat() + "+01:00"


def item(name: str, minutes: float, *, utc: bool = False, **data: Any) -> dict[str, Any]:
    """One `/event-history` item."""
    return {"Event": name, **data, "Time": history_time(minutes, utc=utc)}


def session_of(pipeline: Pipeline) -> dict[str, Any]:
    """Return the open session's JSON (it must exist)."""
    session = pipeline.current_session()
    assert session is not None
    return session


def states(pipeline: Pipeline) -> list[tuple[str, str, str | None]]:
    """Return the open session's (state, cause, reason) history."""
    return [(h["state"], h["cause"], h["reason"]) for h in session_of(pipeline)["state_history"]]


_TARGET = {
    "TargetName": "M 31",
    "ProjectName": "M 31 LRGB",
    "Rotation": 0.0,
    "TargetEndTime": "2026-11-24T23:30:00",
    "Coordinates": {
        "RA": 0.7123,
        "RAString": "00:42:44",
        "RADegrees": 10.68,
        "Dec": 41.27,
        "DecString": "41° 16' 09\"",
        "Epoch": "J2000",
    },
}


def test_the_night_begins_with_the_evening_autofocus_not_the_first_frame(
    pipeline: Pipeline,
) -> None:
    """Test that a scheduler night opens at its first work and counts the evening autofocus."""
    pipeline.ingest_frames(
        frames(
            (0, event("CAMERA-CONNECTED")),
            (1, event("SAFETY-CHANGED", IsSafe=True)),
            (2, event("AUTOFOCUS-STARTING")),
            (6, event("AUTOFOCUS-FINISHED")),
            (7, event("TS-NEWTARGETSTART", **_TARGET)),
            (9, event("MOUNT-CENTER")),
            (10, event("GUIDER-START")),
            (10.001, event("GUIDER-START")),
            (21, image(16)),
        )
    )
    session = session_of(pipeline)
    assert session["start"] == "2026-11-24T18:02:00Z"
    assert session["counts"]["autofocus_runs"] == 1
    assert states(pipeline) == [("imaging", "AUTOFOCUS-STARTING", None)]
    assert pipeline.tracker.fsm.equipment.sequence_running
    assert pipeline.tracker.fsm.anomalies == {}


def test_the_night_after_darks_begins_imaging_at_its_evening_autofocus(
    pipeline: Pipeline,
) -> None:
    """Test that calibration frames ending one night do not hold the next night in darks.

    A classic night ends with darks after SEQUENCE-FINISHED; the next evening a scheduler
    night starts with autofocus and a target, no SEQUENCE-STARTING. That work was not taken
    as leaving the darks: the night opened as "darks" until its first light, 20 minutes on.
    """
    next_evening = 24 * 60.0
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (5, image(0)),
            (6, event("SEQUENCE-FINISHED")),
            (12, image(7, image_type="DARK", exposure=300.0)),
            (next_evening + 2, event("AUTOFOCUS-STARTING")),
            (next_evening + 6, event("AUTOFOCUS-FINISHED")),
            (next_evening + 7, event("TS-NEWTARGETSTART", **_TARGET)),
            (next_evening + 21, image(next_evening + 16)),
        )
    )
    assert session_of(pipeline)["start"] == "2026-11-25T18:02:00Z"
    assert states(pipeline) == [("imaging", "AUTOFOCUS-STARTING", None)]


def test_an_unsafe_sky_after_the_last_light_pauses_a_scheduler_run(pipeline: Pipeline) -> None:
    """Test the end of a Target Scheduler night: unsafe sky, dawn flats, SEQUENCE-FINISHED."""
    pipeline.ingest_frames(
        frames(
            (0, event("TS-NEWTARGETSTART", **_TARGET)),
            (10, image(5)),
            (11, event("AUTOFOCUS-STARTING")),
            (12, event("AUTOFOCUS-POINT-ADDED", HFR=2.5, Position=12000)),
            (12.5, event("SAFETY-CHANGED", IsSafe=False)),
            (40, event("FLAT-LIGHT-TOGGLED")),
            (41, image(40.5, image_type="FLAT", exposure=1.2)),
            (42, event("FLAT-LIGHT-TOGGLED")),
            (43, event("SEQUENCE-FINISHED")),
        )
    )
    assert [s for s, _, _ in states(pipeline)] == ["imaging", "paused", "flats", "idle"]
    assert states(pipeline)[1] == ("paused", "SAFETY-CHANGED", "unsafe")
    counts = session_of(pipeline)["counts"]
    assert counts["pauses"] == 1
    # The interrupted autofocus started (counted) and never finished (failed).
    assert (counts["autofocus_runs"], counts["autofocus_failed"]) == (1, 1)
    assert pipeline.tracker.fsm.anomalies == {}  # SEQUENCE-FINISHED closes an inferred run


def test_a_scheduler_wait_is_waiting_until_its_end_then_the_next_target(
    pipeline: Pipeline,
) -> None:
    """Test TS-WAITSTART, then the guider stop and homing that follow it, then a new target."""
    pipeline.ingest_frames(
        frames(
            (0, event("TS-NEWTARGETSTART", **_TARGET)),
            (10, image(5)),
            (11, event("TS-WAITSTART", WaitEndTime="2026-11-24T23:41:00+01:00")),
            (11.1, event("GUIDER-STOP")),
            (11.5, event("MOUNT-HOMED")),
        )
    )
    assert pipeline.state == SessionState.WAITING
    detail = session_of(pipeline)["state_detail"]
    assert detail["reason"] == "scheduler_wait"
    assert detail["wait_until"] == "2026-11-24T22:41:00Z"
    pipeline.tick(at(11.1) + timedelta(hours=2))  # the guider stop is the wait's, never a pause
    assert pipeline.state == SessionState.WAITING
    pipeline.ingest_frames(
        frames((160, event("TS-NEWTARGETSTART", **{**_TARGET, "TargetName": "M 33"})))
    )
    assert states(pipeline) == [
        ("imaging", "TS-NEWTARGETSTART", None),
        ("waiting", "TS-WAITSTART", "scheduler_wait"),
        ("imaging", "TS-NEWTARGETSTART", None),
    ]
    assert session_of(pipeline)["state_detail"]["wait_until"] is None
    assert session_of(pipeline)["counts"]["pauses"] == 0


def test_a_homed_mount_between_targets_is_waiting_since_it_homed(pipeline: Pipeline) -> None:
    """Test that homing during a run becomes waiting once the grace period passes unresumed."""
    pipeline.ingest_frames(
        frames((0, event("TS-TARGETSTART", **_TARGET)), (10, image(5)), (12, event("MOUNT-HOMED")))
    )
    assert pipeline.state == SessionState.IMAGING
    assert pipeline.deadline == at(15)
    result = pipeline.tick(at(16))
    assert result.ticked is not None and pipeline.state == SessionState.WAITING
    assert states(pipeline)[-1] == ("waiting", "MOUNT-HOMED", "mount_homed")
    assert session_of(pipeline)["state_detail"]["since"] == "2026-11-24T18:12:00Z"


def test_a_guider_stop_before_each_routine_step_never_pauses(pipeline: Pipeline) -> None:
    """Test guider stops before autofocus, a target change, centering, a flip and the end."""
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (1, event("GUIDER-START")),
            (5, event("GUIDER-STOP")),
            (5.1, event("AUTOFOCUS-STARTING")),
            (9, event("AUTOFOCUS-FINISHED")),
            (10, event("GUIDER-START")),
            (20, event("TS-TARGETSTART", **_TARGET)),
            (20.1, event("GUIDER-STOP")),
            (25, event("MOUNT-CENTER")),  # a long slew: past the grace period, but explained
            (26, event("GUIDER-START")),
            (30, event("GUIDER-STOP")),
            (31, event("MOUNT-CENTER")),
            (32, event("GUIDER-START")),
            (40, event("GUIDER-STOP")),
            (40.1, event("MOUNT-BEFORE-FLIP")),
            (43, event("MOUNT-AFTER-FLIP")),
            (44, event("GUIDER-START")),
            (50, event("GUIDER-STOP")),
            (51, event("MOUNT-PARKED")),
            (51.1, event("DOME-SHUTTER-CLOSED")),  # closing down after the park: no pause
            (51.2, event("CAMERA-DISCONNECTED")),
            (51.5, event("SEQUENCE-FINISHED")),
        )
    )
    assert states(pipeline) == [
        ("imaging", "SEQUENCE-STARTING", None),
        ("idle", "SEQUENCE-FINISHED", None),
    ]
    assert session_of(pipeline)["counts"]["pauses"] == 0


def test_the_live_clock_makes_a_lost_guider_a_pause(pipeline: Pipeline) -> None:
    """Test that a tick past the grace period pauses since the stop, and a refold agrees."""
    pipeline.ingest_frames(
        frames((0, event("SEQUENCE-STARTING")), (1, image(0)), (2, event("GUIDER-STOP")))
    )
    assert pipeline.tick(at(4)).ticked is None  # within the grace period
    result = pipeline.tick(at(5.5))
    assert result.ticked is not None
    assert [t.state for t in result.ticked.transitions] == [SessionState.PAUSED]
    assert states(pipeline)[-1] == ("paused", "GUIDER-STOP", "guiding_lost")
    assert session_of(pipeline)["counts"]["pauses"] == 1
    before = session_of(pipeline)
    pipeline.rebuild()
    assert session_of(pipeline)["state_history"] == before["state_history"]
    assert session_of(pipeline)["counts"] == before["counts"]


def test_a_camera_or_dome_shutter_lost_mid_run_pauses(pipeline: Pipeline) -> None:
    """Test that the camera disconnecting or the shutter closing while imaging pauses."""
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (5, image(0)),
            (6, event("CAMERA-DISCONNECTED")),
            (8, event("CAMERA-CONNECTED")),
            (9, event("DOME-SHUTTER-CLOSED")),
            (12, event("DOME-SHUTTER-OPENED")),
        )
    )
    assert states(pipeline) == [
        ("imaging", "SEQUENCE-STARTING", None),
        ("paused", "CAMERA-DISCONNECTED", "camera_disconnected"),
        ("imaging", "CAMERA-CONNECTED", None),
        ("paused", "DOME-SHUTTER-CLOSED", "dome_closed"),
        ("imaging", "DOME-SHUTTER-OPENED", None),
    ]
    assert session_of(pipeline)["counts"]["pauses"] == 2


def test_failed_autofocus_runs_are_counted_once_each(pipeline: Pipeline) -> None:
    """Test ERROR-AF and a start without a finish: every run counted, the failed ones too."""
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (1, event("AUTOFOCUS-STARTING")),
            (3, event("ERROR-AF")),
            (3.01, event("ERROR-AF", Message="again")),  # the log repeats: one failure
            (4, event("AUTOFOCUS-STARTING")),
            (8, event("AUTOFOCUS-STARTING")),  # the one before never finished
            (12, event("AUTOFOCUS-FINISHED")),
        )
    )
    counts = session_of(pipeline)["counts"]
    assert (counts["autofocus_runs"], counts["autofocus_failed"]) == (3, 2)


def test_scheduler_times_without_an_offset_are_utc(pipeline: Pipeline) -> None:
    """Test that history's naive TS-* times are UTC while other naive times are NINA-local."""
    pipeline.ingest_history(
        envelope(
            [
                item("TS-NEWTARGETSTART", 10, utc=True, **_TARGET),
                {
                    "Event": "MOUNT-CENTER",
                    "Time": (at(12) + _LOCAL).replace(tzinfo=None).isoformat(),
                },
            ]
        ),
        envelope([]),
    )
    stored = {e.name: e.time for _, e in pipeline.store.iter_events()}
    assert stored == {"TS-NEWTARGETSTART": at(10), "MOUNT-CENTER": at(12)}
    legacy = legacy_view(pipeline, None, at(20))
    assert legacy["target"]["startedAt"] == "2026-11-24T18:10:00Z"
    assert legacy["target"]["targetEndTime"] == "2026-11-24T23:30:00Z"
    assert legacy["target"]["isExpired"] is False


def _placeholders(data: dict[str, Any]) -> dict[str, Any]:
    """Render nested objects as plugin >= 2.2.12.1's history does: every value `[]`."""
    return {k: {n: [] for n in v} if isinstance(v, dict) else v for k, v in data.items()}


def test_history_placeholders_are_unknown_and_meet_their_live_twins(pipeline: Pipeline) -> None:
    """Test `[]` placeholders and 0 vs 0.0: twins stored once, nothing learned or shown."""
    change = {"Previous": {"Name": "L", "Id": 0.0}, "New": {"Name": "R", "Id": 1.0}}
    live = frames(
        (0, event("TS-NEWTARGETSTART", **_TARGET)),
        (1, event("FILTERWHEEL-CHANGED", **change)),
    )
    pipeline.ingest_frames(live)
    history = [
        item("TS-NEWTARGETSTART", 0, utc=True, **{**_placeholders(_TARGET), "Rotation": 0}),
        item("FILTERWHEEL-CHANGED", 1, **_placeholders(change)),
    ]
    result = pipeline.ingest_history(envelope(history), envelope([]))
    assert result.duplicates == 2
    assert [e.name for _, e in pipeline.store.iter_events()] == [
        "TS-NEWTARGETSTART", "FILTERWHEEL-CHANGED"]  # fmt: skip


def test_placeholders_are_never_learned_or_shown(pipeline: Pipeline) -> None:
    """Test that a history read alone (HA started mid-night) shows no placeholder as a value."""
    change = {"Previous": {"Name": "L", "Id": 0}, "New": {"Name": "R", "Id": 1}}
    history = [
        item("TS-NEWTARGETSTART", 0, utc=True, **_placeholders(_TARGET)),
        item("FILTERWHEEL-CHANGED", 1, **_placeholders(change)),
        item("IMAGE-SAVE", 7),
    ]
    pipeline.ingest_history(envelope(history), envelope([]))
    legacy = legacy_view(pipeline, None, at(10))
    assert legacy["target"]["name"] == "M 31"
    assert legacy["target"]["coordinates"] is None
    assert pipeline.normalizer.snapshot()["filter"] is None  # not "[]"


def test_filter_change_to_the_same_filter_is_no_change(pipeline: Pipeline) -> None:
    """Test that FILTERWHEEL-CHANGED with Previous == New teaches nothing."""
    same = {"Previous": {"Name": "R", "Id": 1}, "New": {"Name": "R", "Id": 1}}
    pipeline.ingest_frames(frames((0, image(-5, filter_name="Ha"))))
    pipeline.ingest_frames(frames((1, event("FILTERWHEEL-CHANGED", **same))))
    assert pipeline.normalizer.snapshot()["filter"] == "Ha"


def test_a_flat_run_without_image_records_is_flats_not_lights(pipeline: Pipeline) -> None:
    """Test sparse history IMAGE-SAVEs with no records: FLAT while the panel is lit, else UNKNOWN."""
    history = [item("TS-NEWTARGETSTART", 0, utc=True, **_TARGET), item("IMAGE-SAVE", 1)]
    history += [item("FLAT-LIGHT-TOGGLED", 30)]
    history += [item("IMAGE-SAVE", 31 + n * 0.1) for n in range(5)]
    history += [item("FLAT-LIGHT-TOGGLED", 32)]
    pipeline.ingest_history(envelope(history), envelope([]))
    session = session_of(pipeline)
    assert session["frames"]["by_type"] == {"UNKNOWN": 1, "FLAT": 5}
    assert session["frames"]["by_filter"] == {}
    assert session["integration_seconds"] == 0
    stored = [e.frame.image_type for _, e in pipeline.store.iter_events() if e.frame]
    assert stored == ["UNKNOWN", *["FLAT"] * 5]


def test_nothing_detected_is_no_measurement(pipeline: Pipeline) -> None:
    """Test that HFR 0 and Stars -1 on a light (clouds) stay out of the quality means."""
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (5, image(0, HFR=2.0, Stars=1000)),
            (10, image(5, HFR=0.0, Stars=-1)),
        )
    )
    quality = session_of(pipeline)["quality"]
    assert (quality["hfr_mean"], quality["hfr_last"], quality["stars_last"]) == (2.0, 2.0, 1000)
    frame = pipeline.store.last_frame(session_of(pipeline)["id"])
    assert frame is not None and (frame.hfr, frame.stars) == (None, None)


def test_events_stored_under_the_old_fingerprint_rule_are_migrated(db_path: Path) -> None:
    """Test that a schema 1 database's live rows meet their history twins after the upgrade."""
    scratch = Store(db_path.with_name("scratch.db"))
    change = {"Previous": {"Name": "L", "Id": 0.0}, "New": {"Name": "R", "Id": 1.0}}
    Pipeline(scratch, OPTIONS).ingest_frames(frames((0, event("FILTERWHEEL-CHANGED", **change))))
    live = scratch.recent_events(1)[0]
    scratch.close()
    old = "FILTERWHEEL-CHANGED#0123456789abcdef"  # what the old rule hashed
    ts = live.time.timestamp()
    schema_1 = MIGRATIONS[1]
    assert isinstance(schema_1, str)
    with closing(sqlite3.connect(db_path)) as db, db:
        db.executescript(schema_1)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        db.execute("INSERT INTO session_events (event_key, fingerprint, ts, name, source, data) "
                   "VALUES (?,?,?,?,?,?)", (f"{old}@{round(ts * 1000)}", old, ts, live.name,
                   live.source.value, json.dumps(live.data)))  # fmt: skip
    store = Store(db_path)
    try:
        pipeline = Pipeline(store, OPTIONS)
        history = [item("FILTERWHEEL-CHANGED", 0, **{k: {"Name": [], "Id": []} for k in change})]
        result = pipeline.ingest_history(envelope(history), envelope([]))
        assert result.duplicates == 1
        assert len(list(store.iter_events())) == 1
    finally:
        store.close()


def test_a_restored_machine_of_an_older_version_loads(db_path: Path) -> None:
    """Test that a saved state without the new fields (and with a removed one) restores."""
    store = Store(db_path)
    Pipeline(store, OPTIONS).ingest_frames(frames((0, event("SEQUENCE-STARTING"))))
    with closing(sqlite3.connect(db_path)) as db, db:
        data = json.loads(db.execute("SELECT data FROM session_state").fetchone()[0])
        equipment = data["tracker"]["fsm"]["equipment"]
        for name in ("pending", "resting", "wait_until", "sequence_started", "focus_error"):
            equipment.pop(name)
        equipment["pause_counted"] = False
        db.execute("UPDATE session_state SET data = ?", (json.dumps(data),))
    store.close()
    store = Store(db_path)
    try:
        assert Pipeline(store, OPTIONS).state == SessionState.IMAGING
    finally:
        store.close()


def test_tick_time_is_independent_of_arrival(pipeline: Pipeline) -> None:
    """Test that the state a tick made is what a later event makes on a refold (same since)."""
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING")), (2, event("GUIDER-STOP"))))
    pipeline.tick(datetime(2026, 11, 24, 18, 30, tzinfo=UTC))
    ticked = session_of(pipeline)["state_history"]
    pipeline.ingest_frames(frames((31, event("GUIDER-DITHER"))))
    assert session_of(pipeline)["state_history"] == ticked


def test_a_flat_run_seen_live_is_not_stored_again_from_its_sparse_history(
    pipeline: Pipeline,
) -> None:
    """Test live flats whose image records are missing: history's sparse copies are twins."""
    flats = [
        (30 + n * 0.1, image(29.9 + n * 0.1, image_type="FLAT", exposure=1.0)) for n in range(5)
    ]
    pipeline.ingest_frames(frames((29, event("FLAT-LIGHT-TOGGLED")), *flats))
    history = [item("FLAT-LIGHT-TOGGLED", 29)]
    history += [item("IMAGE-SAVE", 30 + n * 0.1) for n in range(5)]
    result = pipeline.ingest_history(envelope(history), envelope([]))
    assert result.duplicates == 6
    assert session_of(pipeline)["frames"]["by_type"] == {"FLAT": 5}
