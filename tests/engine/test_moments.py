"""Which engine results are which moments of the night, through the real pipeline."""

from __future__ import annotations

from custom_components.nina_session.engine import moments as m
from custom_components.nina_session.engine.batch_result import BatchResult
from custom_components.nina_session.engine.fsm import SessionState
from custom_components.nina_session.engine.moments import Moment, Moments
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.sessions import Applied
from tests.engine.frames import at, event, frames, image


def live(moments: Moments, result: BatchResult) -> list[Moment]:
    """Return the moments of every applied event of a live batch, in order."""
    found: list[Moment] = []
    for item in result.applied:
        assert isinstance(item, Applied)
        found.extend(moments.live(item))
    return found


def test_alike_moments_of_one_batch_tell_apart_by_when_nina_said_them(pipeline: Pipeline) -> None:
    """Test two autofocus runs, flips and errors without data in one batch differ.

    The event entity's state is its firing time in milliseconds: two fires of one batch with
    the same attributes would be one state change, and automations would run once.
    """
    moments = Moments(SessionState.IDLE)
    result = pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (1, event("AUTOFOCUS-FINISHED")),
            (2, event("MOUNT-AFTER-FLIP")),
            (3, event("ERROR-AF")),
            (61, event("AUTOFOCUS-FINISHED")),
            (62, event("MOUNT-AFTER-FLIP")),
            (63, event("ERROR-AF")),
        )
    )
    told = live(moments, result)
    for kind in (m.AUTOFOCUS_FINISHED, m.MERIDIAN_FLIP, m.ERROR):
        first, second = [t.attributes for t in told if t.event_type == kind]
        assert first != second
        assert first["time"] < second["time"]
        assert first["time"].endswith("Z")


def test_a_live_night_tells_each_moment_once_in_order(pipeline: Pipeline) -> None:
    """Test start, state changes, frames, autofocus, flip and errors of a live night."""
    moments = Moments(SessionState.IDLE)
    result = pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (1, event("AUTOFOCUS-FINISHED", Temperature=3.5)),
            (2, image(1)),
            (3, event("ERROR-PLATESOLVE")),
            (4, event("MOUNT-AFTER-FLIP")),
            (5, event("SEQUENCE-ENTITY-FAILED", Entity="Center")),
            (6, event("CAMERA-DOWNLOAD-TIMEOUT")),
            (7, event("ERROR-AF")),
        )
    )
    told = live(moments, result)
    assert [t.event_type for t in told] == [
        m.SESSION_STARTED,
        m.STATE_CHANGED,
        m.AUTOFOCUS_FINISHED,
        m.IMAGE_SAVED,
        m.ERROR,
        m.MERIDIAN_FLIP,
        m.ERROR,
        m.ERROR,
        m.ERROR,
    ]
    started, changed, focused, saved = told[:4]
    assert started.attributes["session_id"] == pipeline.current_session()["id"]  # type: ignore[index]
    assert changed.attributes["previous"] == "idle"
    assert changed.attributes["state"] == "imaging"
    assert changed.attributes["cause"] == "SEQUENCE-STARTING"
    assert focused.attributes["Temperature"] == 3.5
    assert saved.attributes["image_type"] == "LIGHT"
    assert saved.attributes["filter"] == "Ha"
    assert saved.attributes["exposure"] == 300.0
    # The errors the session counts are the errors told: one rule (vocabulary.ERROR_EVENTS).
    errors = [t.attributes["error"] for t in told if t.event_type == m.ERROR]
    assert len(errors) == pipeline.current_session()["counts"]["errors"]  # type: ignore[index]
    assert moments.told == SessionState.IMAGING


def test_a_lost_guider_is_told_by_the_tick_that_pauses(pipeline: Pipeline) -> None:
    """Test that guiding_lost comes with the tick past the grace, never with the stop."""
    moments = Moments(SessionState.IDLE)
    stopped = pipeline.ingest_frames(
        frames((0, event("SEQUENCE-STARTING")), (1, image(0)), (2, event("GUIDER-STOP")))
    )
    assert m.GUIDING_LOST not in [t.event_type for t in live(moments, stopped)]
    assert moments.ticked(pipeline.tick(at(4))) == []  # within the grace period
    told = moments.ticked(pipeline.tick(at(5.5)))
    assert [t.event_type for t in told] == [m.STATE_CHANGED, m.GUIDING_LOST]
    assert told[0].attributes["reason"] == "guiding_lost"
    assert told[1].attributes == {"since": told[0].attributes["since"], "state": "paused"}
    assert moments.told == SessionState.PAUSED


def test_the_idle_clock_closing_a_session_is_told_with_what_it_produced(
    pipeline: Pipeline,
) -> None:
    """Test session_ended from a tick: the session's id, frames and integration."""
    moments = Moments()
    pipeline.ingest_frames(
        frames(
            (0, event("SEQUENCE-STARTING")),
            (1, image(0)),
            (6, image(5)),
            (7, event("SEQUENCE-FINISHED")),
        )
    )
    session_id = pipeline.current_session()["id"]  # type: ignore[index]
    told = moments.ticked(pipeline.tick(at(6) + pipeline.options.idle_gap * 3))
    ended = [t for t in told if t.event_type == m.SESSION_ENDED]
    assert len(ended) == 1
    assert ended[0].attributes["session_id"] == session_id
    assert ended[0].attributes["frames"] == 2
    assert ended[0].attributes["integration_seconds"] == 600


def test_a_merge_tells_one_state_change_from_the_state_last_told(pipeline: Pipeline) -> None:
    """Test after_merge: the cause of the state reached, once; nothing when it did not move."""
    moments = Moments(SessionState.IDLE)
    result = pipeline.ingest_frames(
        frames((0, event("SEQUENCE-STARTING")), (1, image(0)), (2, event("FLAT-LIGHT-TOGGLED")))
    )
    state = pipeline.state
    told = moments.after_merge(state, result)
    assert len(told) == 1
    assert told[0].event_type == m.STATE_CHANGED
    assert told[0].attributes["previous"] == "idle"
    assert told[0].attributes["state"] == state.value
    assert told[0].attributes["since"] is None
    assert moments.after_merge(state, result) == []
    # Nothing told before (a fresh start): the merge sets the baseline and tells nothing.
    assert Moments().after_merge(state, result) == []
