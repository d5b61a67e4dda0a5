"""Read models the views, services and CLI publish: session, legacy, health, stats."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .fsm import SessionState
from .health import ConnectionHealth
from .legacy import LegacyInputs, to_legacy
from .pipeline import Pipeline
from .timeutil import iso_z

_EQUIPMENT_EVENTS = tuple(
    f"{device}-{change}"
    for device in (
        "CAMERA",
        "FILTERWHEEL",
        "FOCUSER",
        "GUIDER",
        "MOUNT",
        "ROTATOR",
        "DOME",
        "FLAT",
        "SAFETY",
        "SWITCH",
        "WEATHER",
    )
    for change in ("CONNECTED", "DISCONNECTED")
)


def session_view(pipeline: Pipeline, health: ConnectionHealth | None) -> dict[str, Any] | None:
    """Return the canonical JSON of the open session, with the `disconnected` view state."""
    session = pipeline.current_session()
    if session is not None and health is not None and not health.connected:
        session = {**session, "state": SessionState.DISCONNECTED.value}
    return session


def view_state(pipeline: Pipeline, health: ConnectionHealth | None) -> SessionState:
    """Return the state to show: the FSM state, or `disconnected` while NINA is unreachable."""
    if health is not None and not health.connected:
        return SessionState.DISCONNECTED
    return pipeline.state


def legacy_view(
    pipeline: Pipeline, health: ConnectionHealth | None, now: datetime
) -> dict[str, Any]:
    """Return the legacy session-state object, from the store and the pipeline."""
    store = pipeline.store
    session = pipeline.current_session()
    last_frame = store.last_frame(session["id"]) if session else None
    darks = store.session_frames(session["id"], ("DARK", "BIAS")) if session else []
    current_filter = (session or {}).get("current", {}).get("filter")
    if current_filter is None:
        latest_frame = store.latest_event(("IMAGE-SAVE",))
        current_filter = latest_frame.frame.filter if latest_frame and latest_frame.frame else None
    inputs = LegacyInputs(
        session=session,
        state=view_state(pipeline, health).value,
        state_since=pipeline.tracker.fsm.since,
        current_filter=current_filter,
        target_event=store.latest_event(("TS-TARGETSTART", "TS-NEWTARGETSTART")),
        safety_event=store.latest_event(("SAFETY-CHANGED",)),
        equipment_event=store.latest_event(_EQUIPMENT_EVENTS),
        brightness_event=store.latest_event(("FLAT-BRIGHTNESS-CHANGED",)),
        last_frame=last_frame,
        darks=darks,
        recent_events=store.recent_events(5),
        event_count=store.counts()["events"],
        connected=bool(health and health.connected),
        reconnects=health.reconnects if health else 0,
        last_message_at=health.last_message_at if health else None,
    )
    return to_legacy(inputs, now)


def health_view(pipeline: Pipeline, health: ConnectionHealth, db_path: str) -> dict[str, Any]:
    """Return the health JSON with its `db` part."""
    counts = pipeline.store.counts()
    return {
        **connection_view(pipeline, health),
        "db": {
            "path": db_path,
            "size_bytes": counts["size_bytes"],
            "sessions": counts["sessions"],
            "events": counts["events"],
            # A database refusing writes: why, how often, and how many events wait for it.
            "error": pipeline.writer.storage_error,
            "write_failures": pipeline.writer.storage_failures,
            "pending_events": pipeline.writer.pending_events,
            **health.storage.as_dict(),
        },
        "clock": clock_view(pipeline),
    }


def connection_view(pipeline: Pipeline, health: ConnectionHealth) -> dict[str, Any]:
    """Return the connection health with the pipeline's pending-write budget as it is now."""
    pending = health.budgets.pending_writes
    pending.bytes = pipeline.writer.pending_bytes
    pending.refused = pipeline.counters.rejected_by_reason.get("pending_full", 0)
    return health.as_dict()


def clock_view(pipeline: Pipeline) -> dict[str, Any]:
    """Return how NINA's clock and delivery order were handled: offset, late events, refolds."""
    return {
        "nina_offset_seconds": round(pipeline.clock.offset, 3),
        "offset_measured": pipeline.clock.measured,
        "late_events": pipeline.late_events,
        "rebuilds": pipeline.rebuilds,
    }


def stats_view(
    pipeline: Pipeline, health: ConnectionHealth, db_path: str, started: datetime, now: datetime
) -> dict[str, Any]:
    """Return the stats JSON: database, open session, connection, events and totals."""
    store = pipeline.store
    counts = store.counts()
    session = pipeline.current_session()
    start = pipeline.tracker.open.start if pipeline.tracker.open else None
    return {
        "database": {
            "sessions": counts["sessions"],
            "events": counts["events"],
            "size_bytes": counts["size_bytes"],
            "last_write": iso_z(store.last_write),
        },
        "session": {
            "state": view_state(pipeline, health).value,
            "start": session["start"] if session else None,
            "duration_s": round((now - start).total_seconds(), 1) if start else None,
        },
        "connection": health_view(pipeline, health, db_path),
        "events": {
            **pipeline.counters.as_dict(detailed=True),
            "late": pipeline.late_events,
        },
        "totals": store.totals(),
        "system": {"uptime_s": round((now - started).total_seconds(), 1)},
    }
