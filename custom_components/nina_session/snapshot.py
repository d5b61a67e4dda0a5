"""What entities read of one NINA instance: immutable snapshots the coordinator publishes.

Kept apart from the coordinator so that what reads them (entities, repairs, device
triggers) depends on the shapes, not on the machinery that makes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .engine.fsm import SessionState
from .engine.health import ConnectionHealth
from .engine.moments import Moment


@dataclass(frozen=True, slots=True)
class HealthSnapshot:
    """The parts of `ConnectionHealth` entities and repairs look at.

    Not the failure counter: while NINA is off it moves on every retry, and a snapshot per
    retry would be churn for nothing (diagnostics has it).
    """

    connected: bool = False
    failing: bool = False
    plugin_version: str | None = None
    last_error: str | None = None
    reconnects: int = 0
    since: datetime | None = None
    #: Why the database refuses writes (events wait in memory meanwhile); None when fine.
    storage_error: str | None = None

    @classmethod
    def of(cls, health: ConnectionHealth, storage_error: str | None = None) -> HealthSnapshot:
        """Return the snapshot of `health`, with the pipeline's storage error."""
        return cls(
            connected=health.connected,
            failing=health.failing,
            plugin_version=health.plugin_version,
            last_error=health.last_error,
            reconnects=health.reconnects,
            since=health.since,
            storage_error=storage_error,
        )


@dataclass(frozen=True, slots=True)
class LastFrame:
    """The latest saved frame of any type (from live events, else from stored history)."""

    image_type: str | None = None
    filter: str | None = None
    exposure: float | None = None
    temperature: float | None = None
    hfr: float | None = None
    stars: int | None = None
    guiding_rms: float | None = None
    target: str | None = None
    time: datetime | None = None


#: One moment of the night (engine.moments): device triggers and the event entity pick theirs.
type Trigger = Moment


@dataclass(frozen=True, slots=True)
class NinaSessionData:
    """What entities read; replaced (never mutated) on every update."""

    #: FSM state, or `disconnected` while NINA is unreachable (the sensor shows this).
    state: SessionState
    #: The FSM state itself, whatever the connection.
    fsm_state: SessionState
    #: Why the FSM is in its state (engine.sessions.state_detail: since, cause, reason,
    #: wait_until), with or without an open session.
    state_detail: Mapping[str, Any]
    #: Canonical session JSON of the open session (design.md), None when none is open.
    session: Mapping[str, Any] | None
    health: HealthSnapshot
    sequence_running: bool = False
    guiding: bool = False
    safe: bool | None = None
    current_filter: str | None = None
    current_target: str | None = None
    last_frame: LastFrame | None = None
    #: Why this snapshot was made: an engine update reason, "start" or "health".
    reason: str = "start"
    #: Triggers produced by this update (empty for most).
    triggers: tuple[Trigger, ...] = ()
    #: Live IMAGE-SAVE events in this update (the image entity's index moves by this).
    images_saved: int = 0
    #: A live IMAGE-SAVE or IMAGE-PREPARED arrived: a new picture can be fetched.
    image_changed: bool = False
