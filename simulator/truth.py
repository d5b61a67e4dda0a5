"""Ground truth of a simulated night, and how a perfect consumer reads it from the events.

The generator counts its `GroundTruth` while it emits (and scripts the session's states by
hand); `truth_from_events` derives the same from the event list alone, following the session
semantics of issue 15 (`/work/prompts/semantics.md`). A test holds the two equal, so neither
can drift without the other noticing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulator.events import SimEvent

NO_FILTER = "none"

# A guider stop nothing explains within this long is a lost guider: a pause since the stop.
GUIDER_GRACE = timedelta(seconds=180)
# Work that means a run is going on even when SEQUENCE-STARTING never came (besides a LIGHT).
_RUN_WORK = frozenset(
    {"SEQUENCE-STARTING", "TS-NEWTARGETSTART", "TS-TARGETSTART", "AUTOFOCUS-STARTING",
     "MOUNT-CENTER", "GUIDER-START"}
)  # fmt: skip
# What ends a wait (besides a LIGHT frame).
_ENDS_WAIT = frozenset(
    {"TS-NEWTARGETSTART", "TS-TARGETSTART", "GUIDER-START", "AUTOFOCUS-STARTING",
     "MOUNT-CENTER", "MOUNT-UNPARKED"}
)  # fmt: skip
# What explains a guider stop that came just before (besides a frame and an unsafe sky).
_EXPLAINS_STOP = frozenset(
    {"GUIDER-START", "AUTOFOCUS-STARTING", "MOUNT-CENTER", "MOUNT-BEFORE-FLIP",
     "TS-NEWTARGETSTART", "TS-TARGETSTART", "TS-WAITSTART", "MOUNT-PARKED", "MOUNT-HOMED",
     "SEQUENCE-FINISHED"}
)  # fmt: skip
# Pause reasons: the event that raises one, and the event that clears it.
_RAISES = {"CAMERA-DISCONNECTED": "camera", "DOME-SHUTTER-CLOSED": "shutter"}
_CLEARS = {"CAMERA-CONNECTED": "camera", "DOME-SHUTTER-OPENED": "shutter"}
_FRAME_STATES = {"LIGHT": "imaging", "FLAT": "flats", "DARK": "darks", "BIAS": "darks",
                 "DARKFLAT": "darks"}  # fmt: skip
_RUNNING = frozenset({"imaging", "waiting"})


@dataclass
class GroundTruth:
    """What really happened. Frames without a filter count under "none"."""

    lights_by_filter: dict[str, int] = field(default_factory=dict)
    light_seconds_by_filter: dict[str, float] = field(default_factory=dict)
    frames_by_type: dict[str, int] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    dithers: int = 0
    autofocus_runs: int = 0  # AUTOFOCUS-STARTING: every run, failed or interrupted too
    autofocus_failed: int = 0  # runs ending in ERROR-AF or never FINISHED, once per run
    meridian_flips: int = 0  # MOUNT-AFTER-FLIP
    pauses: int = 0  # interruptions of a running run (unsafe sky, lost guider, ...)
    errors: int = 0  # ERROR-* events
    nina_restarts: int = 0
    # The session's (state, cause) entries, from the work that opened it.
    states: list[tuple[str, str]] = field(default_factory=list)

    @property
    def frames_total(self) -> int:
        """Return the number of frames of every type."""
        return sum(self.frames_by_type.values())

    @property
    def integration_seconds(self) -> float:
        """Return the total exposure time of the lights, in seconds."""
        return sum(self.light_seconds_by_filter.values())

    def add_frame(self, image_type: str, filter_name: str | None, exposure: float) -> None:
        """Count one frame; a light also adds its exposure to its filter ("none" without one)."""
        self.frames_by_type[image_type] = self.frames_by_type.get(image_type, 0) + 1
        if image_type == "LIGHT":
            key = filter_name or NO_FILTER
            self.lights_by_filter[key] = self.lights_by_filter.get(key, 0) + 1
            seconds = self.light_seconds_by_filter.get(key, 0.0)
            self.light_seconds_by_filter[key] = seconds + exposure

    def add_target(self, target: str | None) -> None:
        """Record a target the first time one of its lights is taken."""
        if target and target not in self.targets:
            self.targets.append(target)


@dataclass
class SessionStates:
    """The session semantics as a reference: folds events into (state, cause) entries.

    Simple on purpose (no persistence, no live clock): a guider stop still unexplained when the
    events end is not a pause, since no later event shows that its grace period passed. Of the
    explanations that come *before* a stop (e.g. TS-NEWTARGETSTART, then the stop, then minutes
    of slewing), frames do not count: every lost guider would be explained by the last light.
    """

    state: str = "idle"
    running: bool = False
    opened: bool = False
    unsafe: bool = False
    panel_on: bool = False
    reasons: set[str] = field(default_factory=set)
    stop_at: datetime | None = None  # an unexplained guider stop
    explained_ahead: bool = False  # an explanation came since guiding last (re)started
    pauses: int = 0
    history: list[tuple[str, str]] = field(default_factory=list)

    def feed(self, ev: SimEvent) -> None:
        """Fold one event."""
        if self.stop_at is not None and ev.time - self.stop_at > GUIDER_GRACE:
            self.stop_at = None
            self._pause("guider", "GUIDER-STOP")
        kind = self._frame_kind(ev)
        name = ev.name
        if kind is not None or name in _EXPLAINS_STOP:
            self.stop_at = None
        if name == "GUIDER-START":
            self.explained_ahead = False
        elif name in _EXPLAINS_STOP:
            self.explained_ahead = True
        if kind is not None:
            self._frame(kind, name)
        elif name in _RUN_WORK:
            self.running = True
            if self.state == "idle" or (self.state == "waiting" and name in _ENDS_WAIT):
                self._go("imaging", name)
            if name == "GUIDER-START":
                self._clear("guider", name)
        elif name == "MOUNT-UNPARKED" and self.state == "waiting":
            self._go("imaging", name)
        elif name == "TS-WAITSTART" or (name in {"MOUNT-HOMED", "MOUNT-PARKED"} and self.running):
            if self.state == "imaging" and not self.unsafe:
                self._go("waiting", name)
        elif name == "SEQUENCE-FINISHED":
            self.running = False
            self.reasons.clear()
            self._go("idle", name)
        elif name == "SAFETY-CHANGED" and isinstance(ev.data.get("IsSafe"), bool):
            self.unsafe = not ev.data["IsSafe"]
            if self.unsafe:
                self.stop_at = None
                self.explained_ahead = True
                self._pause("unsafe", name)
            else:
                self._clear("unsafe", name)
        elif name in _RAISES:
            self._pause(_RAISES[name], name)
        elif name in _CLEARS:
            self._clear(_CLEARS[name], name)
        elif name == "GUIDER-STOP" and self.state in _RUNNING and self.running:
            self.stop_at = None if self.explained_ahead else ev.time
        elif name == "FLAT-LIGHT-TOGGLED":
            self.panel_on = not self.panel_on
            if self.panel_on:
                self._go("flats", name)
            elif not self.running:
                self._go("idle", name)
        if not self.opened and self._is_work(name, kind):
            self.opened = True
            self.history.append((self.state, name))

    def _frame_kind(self, ev: SimEvent) -> str | None:
        if ev.name != "IMAGE-SAVE":
            return None
        stats = ev.data.get("ImageStatistics")
        if not isinstance(stats, dict):  # sparse: the type comes from the context
            return "FLAT" if self.panel_on else "UNKNOWN"
        return str(stats.get("ImageType") or "LIGHT")

    @staticmethod
    def _is_work(name: str, kind: str | None) -> bool:
        return name in _RUN_WORK or (kind is not None and kind != "SNAPSHOT")

    def _frame(self, kind: str, cause: str) -> None:
        state = _FRAME_STATES.get(kind)
        if state is None:
            return
        if kind == "LIGHT":
            self.running = True
            self.reasons.clear()
        self._go(state, cause)

    def _pause(self, reason: str, cause: str) -> None:
        if self.state == "paused":
            self.reasons.add(reason)
        elif self.state in _RUNNING and self.running:
            self.reasons = {reason}
            self.pauses += 1
            self._go("paused", cause)

    def _clear(self, reason: str, cause: str) -> None:
        self.reasons.discard(reason)
        if self.state == "paused" and not self.reasons:
            self._go("imaging", cause)

    def _go(self, state: str, cause: str) -> None:
        if state != self.state:
            self.state = state
            if self.opened:
                self.history.append((state, cause))


@dataclass
class _AutofocusRuns:
    """Counts autofocus runs and failed ones: ERROR-AF, or a start never FINISHED."""

    runs: int = 0
    failed: int = 0
    open: bool = False  # a run started and neither finished nor failed yet

    def feed(self, name: str) -> None:
        if name == "AUTOFOCUS-STARTING":
            self.end_run()
            self.runs += 1
            self.open = True
        elif name == "AUTOFOCUS-FINISHED":
            self.open = False
        elif name == "ERROR-AF":
            self.failed += 1
            self.open = False
        elif name == "SEQUENCE-FINISHED":
            self.end_run()

    def end_run(self) -> None:
        if self.open:
            self.failed += 1
            self.open = False


def truth_from_events(events: Iterable[SimEvent]) -> GroundTruth:
    """Count what the event list shows, the way a perfect consumer would.

    A frame without ImageType counts as LIGHT; a light without TargetName belongs to the latest
    TS target start (else to no target). Equal to `Night.truth` for every night except
    old-plugin nights with calibration frames or without Target Scheduler (the wire lacks it).
    """
    truth = GroundTruth()
    states = SessionStates()
    focus = _AutofocusRuns()
    ts_target: str | None = None
    last_epoch: int | None = None
    for ev in events:
        if last_epoch is not None and ev.epoch > last_epoch:
            truth.nina_restarts += 1
        last_epoch = ev.epoch
        states.feed(ev)
        focus.feed(ev.name)
        if ev.name == "IMAGE-SAVE":
            stats = ev.data.get("ImageStatistics")
            if not isinstance(stats, dict):
                continue
            kind = str(stats.get("ImageType") or "LIGHT")
            truth.add_frame(kind, stats.get("Filter"), float(stats.get("ExposureTime") or 0.0))
            if kind == "LIGHT":
                truth.add_target(stats.get("TargetName") or ts_target)
        elif ev.name in {"TS-TARGETSTART", "TS-NEWTARGETSTART"}:
            ts_target = str(ev.data.get("TargetName") or "") or None
        elif ev.name == "GUIDER-DITHER":
            truth.dithers += 1
        elif ev.name == "MOUNT-AFTER-FLIP":
            truth.meridian_flips += 1
        elif ev.name.startswith("ERROR-"):
            truth.errors += 1
    focus.end_run()  # the events end: a run still open never finished
    truth.autofocus_runs, truth.autofocus_failed = focus.runs, focus.failed
    truth.pauses, truth.states = states.pauses, states.history
    return truth
