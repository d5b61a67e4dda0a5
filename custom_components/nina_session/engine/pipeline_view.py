"""What readers on other threads see of the fold: one object, replaced whole after each batch."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from .fsm import Equipment, SessionState
from .sessions import SessionTracker, state_detail


@dataclass(frozen=True, slots=True)
class PipelineView:
    """What readers on other threads see of the fold, published whole after each batch.

    The writer thread folds into the tracker; the event loop reads this instead, so it never
    sees a half-folded batch or a rebuild in progress (one reference swap, atomic in Python).
    Treat it as read-only: `session` is shared with the stored summary.
    """

    state: SessionState = SessionState.IDLE
    since: datetime | None = None
    #: Why the machine is in its state (`sessions.state_detail`), session or not.
    detail: dict[str, Any] = field(default_factory=lambda: state_detail(None))
    #: When a pending stop becomes a state (the engine's clock ticks then), if one is pending.
    deadline: datetime | None = None
    #: The open session's canonical JSON, or None.
    session: dict[str, Any] | None = None
    equipment: Equipment = field(default_factory=Equipment)
    anomalies: dict[str, int] = field(default_factory=dict)


def publish(
    tracker: SessionTracker, current: dict[str, Any] | None = None
) -> tuple[PipelineView, dict[str, Any] | None]:
    """Return the view of `tracker`'s fold, and the open session's summary (None if none).

    `current` is the open session's summary when the caller already has it. The view holds
    copies of what the writer goes on changing (equipment, anomalies), so it stays as it was.
    """
    fsm, open_session = tracker.fsm, tracker.open
    if open_session is None:
        current = None
    elif current is None:
        current = open_session.to_json(fsm.state, fsm)
    equipment = replace(fsm.equipment, pause_reasons=list(fsm.equipment.pause_reasons))
    view = PipelineView(
        fsm.state,
        fsm.since,
        state_detail(fsm),
        fsm.deadline,
        current,
        equipment,
        dict(fsm.anomalies),
    )
    return view, current
