"""A late event refolds from the checkpoint before it, and gives what a whole rebuild gives.

A week of nights is folded live into a real database; then one late event lands somewhere in
it. The refold it causes must start at the last checkpoint before it (folding only the events
from there on), and leave sessions, event assignments, state histories, the saved state and
the published view exactly as `Pipeline.rebuild` (which folds every stored event) leaves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
import sqlite3
from typing import Any

import pytest

from custom_components.nina_session.engine.models import Source
from custom_components.nina_session.engine.pipeline import Pipeline
from custom_components.nina_session.engine.store import Store
from custom_components.nina_session.engine.wire import WireEvent
from simulator.night import Night, generate_week
from tests.engine.test_nights import live, open_pipeline


@dataclass(frozen=True)
class Late:
    """A late event: its name and data, and where it lands (a time taken from the week)."""

    name: str
    data: dict[str, Any]
    #: Night index and fraction of that night's events (time of the event at that place);
    #: None: the time is `offset` from the first event of the week.
    night: int | None
    at: float = 0.5
    offset: timedelta = timedelta(0)
    #: Whether the refold may start at a checkpoint (not before the first night).
    partial: bool = True


DITHER = ("GUIDER-DITHER", {"Distance": 1.5})
CASES = {
    "inside the open night": Late(*DITHER, night=3, at=0.6),
    "inside an old night": Late(*DITHER, night=1, at=0.5),
    "a sequence between nights": Late("SEQUENCE-STARTING", {}, night=2, at=0.0,
                                      offset=timedelta(hours=-5)),
    "a filter change between nights": Late("FILTERWHEEL-CHANGED",
                                           {"New": {"Name": "Ha"}, "Previous": {"Name": "L"}},
                                           night=3, at=0.0, offset=timedelta(hours=-6)),
    "before all nights": Late("SEQUENCE-STARTING", {}, night=None,
                              offset=timedelta(days=-1), partial=False),
}  # fmt: skip


@pytest.fixture(scope="module")
def week() -> list[Night]:
    """Return four consecutive nights."""
    return generate_week(date(2026, 11, 20), nights=4, seed=5)


def _time(late: Late, week: list[Night]) -> datetime:
    if late.night is None:
        return week[0].events[0].time + late.offset
    events = week[late.night].events
    return events[int(late.at * (len(events) - 1))].time + late.offset + timedelta(seconds=0.5)


def _instants(value: Any) -> Any:
    """Return `value` with its ISO times in UTC.

    A state restored from a checkpoint taken live holds the events' own offsets, one folded
    from the store holds UTC: the same instants.
    """
    if isinstance(value, dict):
        return {key: _instants(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_instants(item) for item in value]
    if isinstance(value, str) and len(value) > 18 and value[10:11] == "T":
        try:
            return datetime.fromisoformat(value).astimezone(UTC).isoformat()
        except ValueError:
            return value
    return value


def _saved_state(state: dict[str, Any] | None) -> Any:
    """Return the saved state with the checkpoints saved in it decoded (see `_instants`)."""
    assert state is not None
    saved = [[ts, sid, json.loads(text)] for ts, sid, text in state.pop("checkpoints")]
    return _instants({**state, "checkpoints": saved})


def _everything(pipeline: Pipeline, path: Path) -> dict[str, Any]:
    """Return all a fold leaves behind: stored sessions, assignments, saved state, view."""
    with sqlite3.connect(path) as db:
        assigned = db.execute("SELECT event_key, session_id FROM session_events ORDER BY id")
        history = db.execute("SELECT session_id, seq, entry FROM session_history ORDER BY 1, 2")
        stored = {"assigned": assigned.fetchall(), "history": history.fetchall()}
    db.close()
    store = pipeline.store
    return {
        **stored,
        "sessions": store.sessions(limit=1000),
        "state": _saved_state(store.load_state()),
        "totals": store.totals(),
        "view": pipeline.view,
    }


def _lived(path: Path, week: list[Night]) -> Pipeline:
    """Return a pipeline on `path` that took in every night of `week` live, in order."""
    pipeline = open_pipeline(path, week[0])
    for night in week:
        live(pipeline, night.events)
    return pipeline


@pytest.mark.parametrize("case", CASES)
def test_a_late_event_refolds_from_a_checkpoint_as_a_rebuild_would(
    case: str, week: list[Night], tmp_path: Path
) -> None:
    """Test that the partial refold equals a whole rebuild on the same database."""
    late = CASES[case]
    path = tmp_path / "week.db"
    pipeline = _lived(path, week)
    stored = sum(len(night.events) for night in week)
    time = _time(late, week)
    assert pipeline.tracker.last_time is not None
    assert time < pipeline.tracker.last_time

    result = pipeline.ingest([WireEvent(late.name, late.data, None, time)], Source.REPLAY)

    assert result.rebuilt
    if late.partial and late.night is not None:
        # From the night it lands in, or the one before when it lands before a night's start.
        since = late.night if late.at > 0 else late.night - 1
        assert pipeline.refolded_events <= sum(len(n.events) for n in week[since:]) + 1
    else:
        assert pipeline.refolded_events == stored + 1
    partial = _everything(pipeline, path)
    pipeline.rebuild()
    assert pipeline.refolded_events == stored + 1
    assert _everything(pipeline, path) == partial


def test_a_second_late_event_uses_the_checkpoints_the_first_refold_made(
    week: list[Night], tmp_path: Path
) -> None:
    """Test that checkpoints made by a refold serve the next one, still equal to a rebuild."""
    path = tmp_path / "week.db"
    pipeline = _lived(path, week)
    for index, late in enumerate((CASES["inside an old night"], CASES["inside the open night"])):
        time = _time(late, week) + timedelta(seconds=index)
        pipeline.ingest([WireEvent(late.name, late.data, None, time)], Source.REPLAY)
    last_night = len(week[-1].events)
    assert pipeline.refolded_events < last_night + 2, "only the open night was refolded"
    partial = _everything(pipeline, path)
    pipeline.rebuild()
    assert _everything(pipeline, path) == partial


def test_after_a_restart_the_saved_checkpoints_serve_a_late_event(
    week: list[Night], tmp_path: Path
) -> None:
    """Test that the newest checkpoints are saved with the state and used after reopening."""
    path = tmp_path / "week.db"
    pipeline = _lived(path, week)
    pipeline.store.close()
    reopened = Pipeline(Store(path), pipeline.options)
    late = CASES["inside the open night"]
    reopened.ingest([WireEvent(late.name, late.data, None, _time(late, week))], Source.REPLAY)
    assert reopened.refolded_events <= len(week[-1].events) + 1
    partial = _everything(reopened, path)
    reopened.rebuild()
    assert _everything(reopened, path) == partial


@pytest.mark.parametrize("case", CASES)
def test_real_rig_nights_refold_as_a_rebuild_would(case: str, tmp_path: Path) -> None:
    """Test the same late events on Target Scheduler nights as real rigs record them.

    No SEQUENCE-STARTING, scheduler waits, homing between targets, an unsafe sky before dawn
    flats: the checkpoints must hold whatever state such a night leaves between sessions.
    """
    week = generate_week(date(2026, 11, 20), nights=4, seed=5, scheduler_nights=True)
    assert any(all(e.name != "SEQUENCE-STARTING" for e in night.events) for night in week), (
        "a night without SEQUENCE-STARTING"
    )
    late = CASES[case]
    path = tmp_path / "rigs.db"
    pipeline = _lived(path, week)
    time = _time(late, week)
    pipeline.ingest([WireEvent(late.name, late.data, None, time)], Source.REPLAY)
    stored = sum(len(night.events) for night in week)
    if late.partial:
        assert pipeline.refolded_events < stored, "refolded from a checkpoint"
    partial = _everything(pipeline, path)
    pipeline.rebuild()
    assert _everything(pipeline, path) == partial
