"""The session state machine, driven through the real pipeline on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from custom_components.nina_session.engine.fsm import SessionState, StateMachine
from custom_components.nina_session.engine.models import Frame
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from tests.engine.conftest import OPTIONS
from tests.engine.frames import event, frames, image


def states(pipeline: Pipeline, *items: tuple[float, dict[str, Any]]) -> list[str]:
    """Ingest `items` and return the state history of the current session."""
    pipeline.ingest_frames(frames(*items))
    session = pipeline.current_session()
    assert session is not None
    return [entry["state"] for entry in session["state_history"]]


def test_cloud_pause_is_left_when_the_sky_is_safe_again(pipeline: Pipeline) -> None:
    """Test that an unsafe sky pauses imaging once and a safe sky and guiding resume it."""
    history = states(
        pipeline,
        (0, event("SEQUENCE-STARTING")),
        (5, image(0)),
        (6, event("SAFETY-CHANGED", IsSafe=False)),
        (6.1, event("GUIDER-STOP")),
        (6.2, event("MOUNT-PARKED")),
        (30, event("SAFETY-CHANGED", IsSafe=True)),
        (30.5, event("MOUNT-UNPARKED")),
        (31, event("GUIDER-START")),
        (36, image(31)),
    )
    assert history == ["imaging", "paused", "imaging"]
    session = pipeline.current_session()
    assert session is not None and session["counts"]["pauses"] == 1


def test_guiding_lost_mid_sequence_pauses_since_the_stop(pipeline: Pipeline) -> None:
    """Test that a guider stop unexplained past the grace period is a pause since the stop."""
    pipeline.ingest_frames(frames((0, event("SEQUENCE-STARTING")), (5, event("GUIDER-STOP"))))
    assert pipeline.state == SessionState.IMAGING  # within the grace period: not yet
    pipeline.ingest_frames(frames((10, event("GUIDER-START"))))
    session = pipeline.current_session()
    assert session is not None
    assert [
        (h["state"], h["since"], h["cause"], h["reason"]) for h in session["state_history"]
    ] == [
        ("imaging", "2026-11-24T18:00:00Z", "SEQUENCE-STARTING", None),
        ("paused", "2026-11-24T18:05:00Z", "GUIDER-STOP", "guiding_lost"),
        ("imaging", "2026-11-24T18:10:00Z", "GUIDER-START", None),
    ]
    assert session["counts"]["pauses"] == 1


def test_guiding_back_within_the_grace_period_is_no_pause(pipeline: Pipeline) -> None:
    """Test that a guider stop followed by a start within the grace period changes nothing."""
    history = states(
        pipeline,
        (0, event("SEQUENCE-STARTING")),
        (5, event("GUIDER-STOP")),
        (7, event("GUIDER-START")),
        (60, event("GUIDER-DITHER")),
    )
    assert history == ["imaging"]


def test_meridian_flip_and_autofocus_guider_stops_are_not_pauses(pipeline: Pipeline) -> None:
    """Test that guider stops around autofocus and a meridian flip count as no pause."""
    history = states(
        pipeline,
        (0, event("SEQUENCE-STARTING")),
        (1, event("AUTOFOCUS-STARTING")),
        (1.1, event("GUIDER-STOP")),
        (3, event("AUTOFOCUS-FINISHED")),
        (3.1, event("GUIDER-START")),
        (60, event("GUIDER-STOP")),
        (60.1, event("MOUNT-BEFORE-FLIP")),
        (62, event("MOUNT-AFTER-FLIP")),
        (63, event("GUIDER-START")),
        (68, image(63)),
    )
    session = pipeline.current_session()
    assert session is not None
    assert session["counts"] == {"dithers": 0, "autofocus_runs": 1, "autofocus_failed": 0,
                                 "meridian_flips": 1, "pauses": 0, "errors": 0}  # fmt: skip
    # A guider stop just before a flip never shows as a pause, not even for a moment.
    assert history == ["imaging"]


def test_dawn_flats_and_darks_after_the_sequence(pipeline: Pipeline) -> None:
    """Test that flats and darks after the sequence become states and join the night's frames."""
    history = states(
        pipeline,
        (0, event("SEQUENCE-STARTING")),
        (5, image(0)),
        (10, event("GUIDER-STOP")),
        (10.2, event("MOUNT-PARKED")),
        (10.5, event("SEQUENCE-FINISHED")),
        (20, event("FLAT-CONNECTED")),
        (21, event("FLAT-COVER-CLOSED")),
        (22, event("FLAT-LIGHT-TOGGLED")),
        (22.1, image(22.05, image_type="FLAT", exposure=1.5)),
        (23, event("FLAT-LIGHT-TOGGLED")),
        (30, image(25, image_type="DARK", filter_name=None, exposure=300)),
        (31, image(30.5, image_type="BIAS", filter_name=None, exposure=0.001)),
    )
    assert history == ["imaging", "idle", "flats", "idle", "darks"]
    session = pipeline.current_session()
    assert session is not None
    # A wind-down guider stop and park before SEQUENCE-FINISHED are neither pause nor wait.
    assert session["counts"]["pauses"] == 0
    assert session["frames"]["by_type"] == {"LIGHT": 1, "FLAT": 1, "DARK": 1, "BIAS": 1}
    assert session["frames"]["by_filter"] == {"Ha": {"count": 1, "seconds": 300.0}}


def test_flat_panel_connecting_at_dusk_is_not_flats(pipeline: Pipeline) -> None:
    """Test that a flat panel connecting and opening at dusk starts neither flats nor a session."""
    pipeline.ingest_frames(frames((0, event("FLAT-CONNECTED")), (1, event("FLAT-COVER-OPENED"))))
    assert pipeline.state == SessionState.IDLE
    assert pipeline.current_session() is None


def test_nonsense_transitions_are_counted_not_raised(pipeline: Pipeline) -> None:
    """Test that out-of-place events and a non-boolean IsSafe are counted as anomalies."""
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-FINISHED")),
            (1, event("MOUNT-AFTER-FLIP")),
            (2, event("SAFETY-CHANGED", IsSafe="maybe")),
        )
    )
    assert pipeline.tracker.fsm.anomalies == {
        "finished_without_start": 1, "flip_without_start": 1, "safety_without_state": 1}  # fmt: skip
    assert pipeline.state == SessionState.IDLE


def _night_with_routine_and_other_frames() -> list[tuple[float, dict[str, Any]]]:
    """Frames that keep the state, change it, settle a pending stop, and open the next night."""
    return [
        (0, event("SEQUENCE-STARTING")),
        (5, image(0)),
        (10, image(5)),
        (11, event("GUIDER-STOP")),  # a stop pending: the next frame settles it
        (12, image(7)),
        (20, image(15, "FLAT")),  # changes the state
        (25, image(20, "FLAT")),
        (30, image(25, "DARK")),
        (35, image(30, "BIAS")),
        (40, image(35)),
        (45, image(40, None)),  # no type: an older plugin's light
        (50, image(45, "SNAPSHOT")),
        (24 * 60 + 10, image(24 * 60 + 5)),  # the next night: closes this one, opens another
        (24 * 60 + 15, image(24 * 60 + 10)),
    ]


def test_routine_frames_fold_as_the_general_path_does(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test that frames taken by `take_routine_frame` fold as `apply` would fold them.

    A second pipeline whose machine takes no frame so (the general path for each) stores the
    same sessions and ends in the same state.
    """
    night = frames(*_night_with_routine_and_other_frames())
    taken: list[bool] = []
    take = StateMachine.take_routine_frame

    def counted(machine: StateMachine, frame: Frame) -> bool:
        taken.append(take(machine, frame))
        return taken[-1]

    monkeypatch.setattr(StateMachine, "take_routine_frame", counted)
    pipeline.ingest_frames(night)
    monkeypatch.setattr(StateMachine, "take_routine_frame", lambda _machine, _frame: False)
    store = Store(tmp_path / "general.db")
    try:
        general = Pipeline(store, OPTIONS)
        general.ingest_frames(night)
        assert taken.count(True) >= 5 and False in taken  # both paths were taken
        assert pipeline.store.sessions() == store.sessions()
        assert pipeline.state == general.state
        assert pipeline.current_session() == general.current_session()
    finally:
        store.close()
