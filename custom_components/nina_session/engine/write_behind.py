"""What a batch's transaction holds back: the touched sessions' summaries and the saved state.

Every batch writes its events. The summaries of the sessions it folded into and the state
(tracker, normalizer context, clock, checkpoints) are written only when something changed
that a restart could not refold from the stored events alone (a session opened or closed, a
change of state, a new normalizer context), else at most every `WRITE_EVERY` of event time:
what one frame's transaction writes must not grow with the session. A crash in between loses
nothing: the events are stored, and the next start folds those after the saved state again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .fsm import SessionState
from .normalize import Normalizer
from .sessions import Session, SessionTracker

#: How long, in event time, a session's summary and the saved state may lag its stored events.
WRITE_EVERY = timedelta(seconds=5)


class WriteBehind:
    """The sessions folded into since their summaries and the state were last written."""

    def __init__(self, normalizer: Normalizer) -> None:
        """Hold back for `normalizer`'s pipeline (a new context is written at once)."""
        self._normalizer = normalizer
        self.sessions: dict[str, Session] = {}
        #: The event time and the normalizer context of the last write.
        self._written_at: datetime | None = None
        self._context = normalizer.snapshot()

    def touch(self, session: Session | None) -> None:
        """Note that `session` (if any) was folded into."""
        if session is not None:
            self.sessions[session.id] = session

    def due(self, changed: bool, now: datetime) -> bool:
        """Return whether summaries and state are written now: on a change, else every few s.

        `now` is the event time (replays and tests stay deterministic).
        """
        if changed or self._written_at is None:
            return True
        if now - self._written_at >= WRITE_EVERY:
            return True
        return self._normalizer.snapshot() != self._context

    def refolded(self, sessions: dict[str, Session], since: float | None) -> None:
        """Hold the sessions a refold made instead of those held.

        `since`: the POSIX time the refold started from (a checkpoint's); the sessions held
        that started before it were not refolded and keep their unwritten changes.
        """
        if since is not None:
            kept = {k: v for k, v in self.sessions.items() if v.start.timestamp() < since}
            sessions = kept | sessions
        self.sessions = sessions

    def lagging(self, now: datetime) -> bool:
        """Return whether summaries wait longer than `WRITE_EVERY` at `now` (a quiet stream)."""
        written = self._written_at
        return bool(self.sessions) and (written is None or now - written >= WRITE_EVERY)

    def take(
        self, tracker: SessionTracker, current: dict[str, Any] | None = None
    ) -> list[tuple[Session, dict[str, Any]]]:
        """Return the held sessions' summaries and mark them written.

        `current` is the open session's summary when the caller already has it; the open
        session's shows the machine's state, a closed one's idle.
        """
        fsm, open_session = tracker.fsm, tracker.open

        def summary(session: Session) -> dict[str, Any]:
            if session is not open_session:
                return session.to_json(SessionState.IDLE)
            return current if current is not None else session.to_json(fsm.state, fsm)

        summaries = [(session, summary(session)) for session in self.sessions.values()]
        self.sessions = {}
        self._written_at = tracker.last_time
        self._context = self._normalizer.snapshot()
        return summaries
