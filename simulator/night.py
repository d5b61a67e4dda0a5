"""Deterministic generator of realistic N.I.N.A. nights, with ground truth.

A night is a list of `SimEvent`s (what the Advanced API plugin pushes on `/v2/socket`, with the
time NINA raised each one) plus a `GroundTruth` counted while generating, independently of the
event list (`simulator.truth` derives it from the events alone). Two kinds of night: a classic
sequence (SEQUENCE-STARTING, targets, filters, calibration) and a Target Scheduler night as real
rigs record it (`NightSpec.scheduler_night`). `simulator.wire` turns events into wire shapes.

Stdlib only; every random choice comes from `random.Random(spec.seed)`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
import random
from typing import Any
from zoneinfo import ZoneInfo

from simulator.events import NAN, JsonDict, SimEvent
from simulator.truth import NO_FILTER, GroundTruth, truth_from_events
from simulator.wire import (
    WireShape,
    history_item,
    image_record,
    naive_utc_time,
    net_time,
    socket_message,
    socket_text,
    to_jsonl_lines,
    to_rest,
)

__all__ = [
    "CATALOG",
    "DEVICES",
    "NAN",
    "NARROWBAND",
    "NO_FILTER",
    "OLD_PLUGIN_MISSING",
    "PRESETS",
    "GroundTruth",
    "JsonDict",
    "Night",
    "NightSpec",
    "SimEvent",
    "WireShape",
    "generate_night",
    "generate_week",
    "history_item",
    "image_record",
    "net_time",
    "preset_night",
    "socket_message",
    "socket_text",
    "to_jsonl_lines",
    "to_rest",
    "truth_from_events",
]

NARROWBAND = frozenset({"HA", "OIII", "SII", "H-ALPHA", "HB", "NII"})
# Keys the older plugin versions did not send in ImageStatistics.
OLD_PLUGIN_MISSING = ("ImageType", "TargetName", "Filename", "Min", "Max", "HFRStDev", "IsBayered")
# Devices connected at dusk, in order (event prefix).
DEVICES = ("CAMERA", "FILTERWHEEL", "FOCUSER", "MOUNT", "GUIDER", "FLAT", "SAFETY")

# name -> (RA hours, Dec degrees), J2000
CATALOG: dict[str, tuple[float, float]] = {
    "M 31": (0.7123, 41.2692),
    "M 33": (1.5641, 30.6602),
    "M 42": (5.5881, -5.3911),
    "M 45": (3.7833, 24.1167),
    "M 81": (9.9259, 69.0653),
    "M 101": (14.0535, 54.3489),
    "M 27": (19.9934, 22.7212),
    "NGC 7000": (20.9783, 44.3300),
    "NGC 6888": (20.2027, 38.3556),
    "NGC 2237": (6.5400, 5.0333),
    "IC 1396": (21.6500, 57.5000),
    "IC 434": (5.6833, -2.4583),
}


@dataclass(frozen=True)
class NightSpec:
    """What happens in one night. Sequences given as lists are stored as tuples."""

    date: date  # the evening's date (local to `tz`)
    tz: str = "Europe/Berlin"  # zone of NINA's PC
    seed: int = 0
    targets: Sequence[str] = ("M 31",)
    filters: Sequence[str] = ("L", "R", "G", "B")  # empty: no filter wheel (OSC camera)
    light_exposure: float = 300.0
    lights_per_filter: int = 5  # 0 (or no targets): no imaging sequence at all
    dither_every: int = 3  # frames; 0: never
    autofocus_every_filter_change: bool = True  # else one autofocus per target
    meridian_flip: bool = False
    cloud_pause: bool = False
    nina_restart: bool = False
    flats_per_filter: int = 0
    darks: int = 0
    dark_exposure: float = 300.0
    bias: int = 0
    use_target_scheduler: bool = False
    old_plugin: bool = False
    start_hour: float = 19.0
    af_error_every: int = 0  # every Nth autofocus run fails (ERROR-AF) and is retried; 0: never
    # The plugin stamps ImageStatistics.Date with DateTime.Now when the image is saved; set this
    # to stamp the exposure start instead.
    date_is_exposure_start: bool = False
    camera: str = "ZWO ASI2600MM Pro"
    telescope: str = "Esprit 100ED"
    focal_length: float = 550.0
    gain: int = 100
    offset: int = 50
    # A Target Scheduler night as real rigs record it: no SEQUENCE-STARTING, evening autofocus,
    # TS target starts and a wait, an autofocus cut by an unsafe sky, dawn flats, then
    # SEQUENCE-FINISHED. Uses targets, filters, light_exposure, lights_per_filter (per plan
    # cycle), dither_every and meridian_flip; flats_per_filter 0 means 7-15 per filter.
    scheduler_night: bool = False
    plan_cycles: int = 2  # scheduler night: TS-TARGETSTART plan cycles per target
    # Calibration frames as NINA really reports them: HFR 0 and Stars -1 (else NaN and 0).
    real_calibration_stats: bool = False
    # False: NINA's /image-history never got the flats (their IMAGE-SAVEs stay sparse).
    flats_in_image_history: bool = True
    # How the server writes this night; None: whatever shape the server already has.
    wire: WireShape | None = None

    def __post_init__(self) -> None:
        """Store `targets` and `filters` as tuples, so the spec stays hashable."""
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "filters", tuple(self.filters))


@dataclass(frozen=True)
class Night:
    """A generated night: its spec, events, ground truth and NINA process starts."""

    spec: NightSpec
    events: list[SimEvent]
    truth: GroundTruth
    application_starts: list[datetime]  # when the NINA process started, one per epoch

    @property
    def start(self) -> datetime:
        """Return the time of the first event."""
        return self.events[0].time

    @property
    def end(self) -> datetime:
        """Return the time of the last event."""
        return self.events[-1].time


# --------------------------------------------------------------------------- generator


def _ra_string(hours: float) -> str:
    total = round(hours * 3600) % 86400
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _dec_string(degrees: float) -> str:
    total = round(abs(degrees) * 3600)
    sign = "-" if degrees < 0 else ""
    return f"{sign}{total // 3600:02d}° {total % 3600 // 60:02d}' {total % 60:02d}\""


_FRAME_STATES = {"LIGHT": "imaging", "FLAT": "flats", "DARK": "darks", "BIAS": "darks"}


class _Builder:
    def __init__(self, spec: NightSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.tz = ZoneInfo(spec.tz)
        local = datetime.combine(spec.date, time(0), tzinfo=self.tz)
        self.now = (local + timedelta(hours=spec.start_hour)).astimezone(UTC)
        self.events: list[SimEvent] = []
        self.truth = GroundTruth()
        self.app_starts = [self._local(self.now - timedelta(minutes=self.rng.uniform(3, 15)))]
        self.epoch = 0
        self.filter: str | None = None  # filter in the light path
        self.guiding = False
        self.af_attempts = 0
        self.focus = 12000 + self.rng.randint(-500, 500)
        self.frame_numbers: dict[tuple[str, str, str], int] = {}
        self.state = "idle"  # the session state the night is in, scripted by each step
        self.session_open = False

    # -- clock and emission
    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.tz)

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=max(seconds, 0.0))

    def emit(
        self, name: str, data: JsonDict | None = None, after: float = 0.0, *, recorded: bool = True
    ) -> SimEvent:
        self.wait(after + self.rng.uniform(0.005, 0.25))
        return self._append(name, data, recorded)

    def emit_right_after(self, name: str, gap: float) -> SimEvent:
        """Emit `gap` seconds after the previous event, with no jitter (milliseconds apart)."""
        self.wait(gap)
        return self._append(name, None, True)

    def _append(self, name: str, data: JsonDict | None, recorded: bool) -> SimEvent:
        ev = SimEvent(self._local(self.now), name, data or {}, self.epoch, recorded)
        self.events.append(ev)
        return ev

    # -- the session's states, as each step knows them (kept apart from simulator.truth)
    def enter(self, state: str, cause: str) -> None:
        if state != self.state:
            self.state = state
            if self.session_open:
                self.truth.states.append((state, cause))

    def work(self, cause: str) -> None:
        """Open the session at the night's first work, in the state the night is in by then."""
        if not self.session_open:
            self.session_open = True
            self.truth.states.append((self.state, cause))

    # -- building blocks
    def connect_equipment(self) -> None:
        for device in DEVICES:
            if device == "FILTERWHEEL" and not self.spec.filters:
                continue
            self.emit(f"{device}-CONNECTED", after=self.rng.uniform(1.0, 4.0))

    def select_filter(self, name: str | None) -> None:
        if name is None or name == self.filter:
            return
        if self.filter is None:  # the first selection raises no FILTERWHEEL-CHANGED
            self.filter = name
            self.wait(self.rng.uniform(2.0, 6.0))
            return
        self.filter_changed(name)

    def filter_changed(self, name: str) -> None:
        """FILTERWHEEL-CHANGED to `name`; real rigs send it with Previous == New too."""
        ids = list(self.spec.filters)
        previous = self.filter or name
        data = {
            "Previous": {"Name": previous, "Id": ids.index(previous)},
            "New": {"Name": name, "Id": ids.index(name)},
        }
        self.filter = name
        self.emit("FILTERWHEEL-CHANGED", data, after=self.rng.uniform(3.0, 8.0))

    def autofocus(self, may_fail: bool = True, points: int = 5, spacing: float = 20.0) -> None:
        self.af_attempts += 1
        every = self.spec.af_error_every
        fails = may_fail and every > 0 and self.af_attempts % every == 0
        best = self.start_autofocus(3 if fails else points, points, spacing)
        if fails:
            self.emit("ERROR-AF", after=3.0)
            self.truth.errors += 1
            self.truth.autofocus_failed += 1
            self.autofocus(may_fail=False, points=points, spacing=spacing)
            return
        self.focus = best
        self.emit("AUTOFOCUS-FINISHED", after=self.rng.uniform(8.0, 15.0))

    def start_autofocus(self, shown: int, points: int, spacing: float) -> int:
        """AUTOFOCUS-STARTING and the first `shown` of a `points`-point curve; the best focus."""
        self.emit("AUTOFOCUS-STARTING", after=2.0)
        self.truth.autofocus_runs += 1
        self.enter("imaging", "AUTOFOCUS-STARTING")
        self.work("AUTOFOCUS-STARTING")
        best = self.focus + self.rng.randint(-40, 40)
        min_hfr = self.rng.uniform(1.6, 2.4)
        for k in [i - points // 2 for i in range(points)][:shown]:
            pos = best + 60 * k + self.rng.randint(-3, 3)
            hfr = min_hfr + 0.00012 * (pos - best) ** 2 + self.rng.uniform(-0.05, 0.05)
            self.emit(
                "AUTOFOCUS-POINT-ADDED", {"HFR": round(hfr, 3), "Position": pos}, after=spacing
            )
        return best

    def guider_start(self, twice: bool = False) -> None:
        self.emit("GUIDER-START", after=self.rng.uniform(20.0, 45.0))
        if twice:  # real rigs: guiding reported started twice, milliseconds apart
            self.emit_right_after("GUIDER-START", self.rng.uniform(0.002, 0.015))
        self.guiding = True

    def guider_stop(self) -> None:
        if self.guiding:
            self.emit("GUIDER-STOP", after=1.0)
            self.guiding = False

    def target_data(self, target: str, planned_seconds: float, naive_end: bool) -> JsonDict:
        """Return a TS target start's payload; the scheduler writes TargetEndTime naive UTC."""
        ra, dec = CATALOG.get(target) or (self.rng.uniform(0, 24), self.rng.uniform(-10, 80))
        end = self._local(self.now + timedelta(seconds=planned_seconds * 1.2))
        return {
            "TargetName": target,
            "ProjectName": f"{target} {''.join(self.spec.filters) or 'OSC'}",
            "Coordinates": {
                "RA": ra,
                "RAString": _ra_string(ra),
                "RADegrees": round(ra * 15, 6),
                "Dec": dec,
                "DecString": _dec_string(dec),
                "Epoch": "J2000",
            },
            "Rotation": 0.0,
            "TargetEndTime": naive_utc_time(end) if naive_end else net_time(end),
        }

    def start_target(self, target: str, planned_seconds: float) -> None:
        if self.spec.use_target_scheduler:
            data = self.target_data(target, planned_seconds, naive_end=False)
            self.emit("TS-TARGETSTART", data, after=3.0)
        self.guider_stop()
        self.emit("MOUNT-CENTER", after=self.rng.uniform(60.0, 120.0))
        self.guider_start()

    def frame(self, kind: str, exposure: float, target: str, *, detected: bool = True) -> None:
        """One exposure: IMAGE-PREPARED then IMAGE-SAVE (exposure end + download)."""
        start = self._local(self.now)
        self.wait(exposure)
        self.emit("IMAGE-PREPARED", after=self.rng.uniform(1.5, 2.5))
        self.wait(self.rng.uniform(0.2, 0.6))
        saved = self._local(self.now)
        stats = self._stats(kind, exposure, target, start, saved)
        if not detected:  # clouds: star detection found nothing
            stats.update(HFR=0.0, HFRStDev=0.0, Stars=-1)
        recorded = kind != "FLAT" or self.spec.flats_in_image_history
        self.emit("IMAGE-SAVE", {"ImageStatistics": stats}, after=0.0, recorded=recorded)
        self.enter(_FRAME_STATES[kind], "IMAGE-SAVE")
        self.work("IMAGE-SAVE")
        self.truth.add_frame(kind, self.filter, exposure)
        if kind == "LIGHT":
            self.truth.add_target(target)

    def _stats(
        self, kind: str, exposure: float, target: str, start: datetime, saved: datetime
    ) -> JsonDict:
        spec, rng = self.spec, self.rng
        hfr = hfr_sd = NAN
        stars = 0
        if kind != "LIGHT" and spec.real_calibration_stats:
            hfr = hfr_sd = 0.0
            stars = -1
        if kind == "LIGHT":
            narrow = (self.filter or "").upper() in NARROWBAND
            mean = rng.uniform(250, 600) if narrow else rng.uniform(700, 1800)
            stdev, low, high = mean * rng.uniform(0.08, 0.2), rng.uniform(100, 220), 65535.0
            stars = rng.randint(300, 1200) if narrow else rng.randint(900, 3500)
            hfr, hfr_sd = round(rng.uniform(1.7, 3.2), 3), round(rng.uniform(0.3, 1.0), 3)
        elif kind == "FLAT":
            mean = rng.uniform(28000, 34000)
            stdev, low, high = rng.uniform(300, 900), mean * 0.6, mean * 1.3
        else:  # DARK, BIAS
            mean = spec.offset * 10 + exposure * 0.02 + rng.uniform(-2, 2)
            stdev, low, high = rng.uniform(8, 20), mean - 60, 65535.0 if kind == "DARK" else 900.0
        rms = ""
        if kind == "LIGHT" and self.guiding:
            px = rng.uniform(0.45, 0.95)
            rms = f'Tot: {px:.2f} ({px * 0.89:.2f}")'
        temp = NAN if rng.random() < 0.04 else round(-10.0 + rng.uniform(-0.3, 0.3), 1)
        key = (target, kind, self.filter or "")
        number = self.frame_numbers.get(key, 0)
        self.frame_numbers[key] = number + 1
        # In UTC: aware arithmetic in a zone is wall-clock arithmetic and would drop the
        # fold, giving the repeated DST hour's second pass the first pass's offset.
        stamp = self._local(
            (start if spec.date_is_exposure_start else saved).astimezone(UTC)
            - timedelta(microseconds=rng.randint(200, 3000))
        )
        filename = (
            f"{start:%Y-%m-%d_%H-%M-%S}_{self.filter or 'NoFilter'}_{temp:.2f}_"
            f"{exposure:.2f}s_{number:04d}.fits"
        )
        stats: JsonDict = {
            "ExposureTime": float(exposure),
            "ImageType": kind,
            "Filter": self.filter or "",  # NINA sends "" when the rig has no wheel
            "RmsText": rms,
            "Temperature": temp,
            "CameraName": spec.camera,
            "TargetName": target,
            "Gain": spec.gain,
            "Offset": spec.offset,
            "Date": net_time(stamp),
            "TelescopeName": spec.telescope,
            "FocalLength": spec.focal_length,
            "StDev": round(stdev, 4),
            "Mean": round(mean, 4),
            "Median": round(mean - stdev * 0.1, 1),
            "Min": float(round(low)),
            "Max": float(round(high)),
            "Stars": stars,
            "HFR": hfr,
            "HFRStDev": hfr_sd,
            "IsBayered": not spec.filters,
            "Filename": filename,
        }
        if spec.old_plugin:
            for missing in OLD_PLUGIN_MISSING:
                stats.pop(missing)
        return stats

    # -- interruptions
    def cloud_pause(self) -> None:
        self.wait(self.rng.uniform(0.2, 0.8) * self.spec.light_exposure)  # exposure lost
        self.emit("SAFETY-CHANGED", {"IsSafe": False})
        self.truth.pauses += 1
        self.enter("paused", "SAFETY-CHANGED")
        self.guider_stop()
        self.emit("MOUNT-PARKED", after=self.rng.uniform(40.0, 90.0))  # unsafe: still paused
        self.wait(self.rng.uniform(17.0, 24.0) * 60)
        self.emit("SAFETY-CHANGED", {"IsSafe": True})
        self.enter("imaging", "SAFETY-CHANGED")
        self.emit("MOUNT-UNPARKED", after=self.rng.uniform(20.0, 40.0))
        self.emit("MOUNT-CENTER", after=self.rng.uniform(60.0, 120.0))
        self.guider_start()

    def meridian_flip(self, guider_twice: bool = False) -> None:
        self.guider_stop()
        self.emit("MOUNT-BEFORE-FLIP", after=2.0)
        self.emit("MOUNT-AFTER-FLIP", after=self.rng.uniform(150.0, 200.0))
        self.truth.meridian_flips += 1
        self.emit("MOUNT-CENTER", after=self.rng.uniform(45.0, 90.0))
        self.guider_start(guider_twice)

    def nina_restart(self, target: str) -> None:
        self.wait(self.rng.uniform(0.3, 0.7) * self.spec.light_exposure)  # crash mid-exposure
        self.wait(self.rng.uniform(150.0, 300.0))  # NINA is down until the user restarts it
        self.epoch += 1
        self.truth.nina_restarts += 1
        self.app_starts.append(self._local(self.now))
        self.guiding = False
        self.wait(self.rng.uniform(20.0, 40.0))
        self.connect_equipment()
        self.emit("SEQUENCE-STARTING", after=5.0)
        remaining = self.spec.lights_per_filter * len(self.spec.filters or (None,))
        self.start_target(target, remaining * self.spec.light_exposure)
        if self.spec.autofocus_every_filter_change:
            self.autofocus()

    # -- the classic sequence night
    def imaging(self) -> None:
        spec = self.spec
        filters: Sequence[str | None] = spec.filters or (None,)
        total = len(spec.targets) * len(filters) * spec.lights_per_filter
        pause_at = total // 3 if spec.cloud_pause else -1
        flip_at = total // 2 if spec.meridian_flip else -1
        restart_at = 2 * total // 3 if spec.nina_restart else -1
        done = 0
        self.emit("MOUNT-UNPARKED", after=20.0)
        self.emit("SEQUENCE-STARTING", after=3.0)
        self.enter("imaging", "SEQUENCE-STARTING")
        self.work("SEQUENCE-STARTING")
        self.emit("FLAT-COVER-OPENED", after=8.0)
        for target in spec.targets:
            planned = len(filters) * spec.lights_per_filter * (spec.light_exposure + 2.5)
            self.start_target(target, planned)
            since_dither = 0
            target_done = 0
            for index, filter_name in enumerate(filters):
                self.select_filter(filter_name)
                if index == 0 or spec.autofocus_every_filter_change:
                    self.autofocus()
                for _ in range(spec.lights_per_filter):
                    if done == pause_at:
                        self.cloud_pause()
                    if done == flip_at:
                        self.meridian_flip()
                    if done == restart_at:
                        self.nina_restart(target)
                    self.frame("LIGHT", spec.light_exposure, target)
                    done += 1
                    target_done += 1
                    since_dither += 1
                    more = target_done < len(filters) * spec.lights_per_filter
                    if spec.dither_every and since_dither >= spec.dither_every and more:
                        self.dither()
                        since_dither = 0
        self.guider_stop()
        self.emit("MOUNT-PARKED", after=self.rng.uniform(40.0, 90.0))
        self.enter("waiting", "MOUNT-PARKED")
        self.emit("SEQUENCE-FINISHED", after=2.0)
        self.enter("idle", "SEQUENCE-FINISHED")

    def dither(self) -> None:
        self.emit("GUIDER-DITHER", after=0.5)
        self.truth.dithers += 1
        self.wait(self.rng.uniform(8.0, 20.0))  # settle

    def flats(self) -> None:
        self.wait(self.rng.uniform(120.0, 600.0))
        self.emit("FLAT-COVER-CLOSED", after=10.0)
        self.emit("FLAT-LIGHT-TOGGLED", after=2.0)  # on
        self.enter("flats", "FLAT-LIGHT-TOGGLED")
        brightness = 0
        for filter_name in self.spec.filters or (None,):
            self.select_filter(filter_name)
            new = self.rng.randint(5, 90)
            self.emit("FLAT-BRIGHTNESS-CHANGED", {"Previous": brightness, "New": new}, after=1.0)
            brightness = new
            exposure = round(self.rng.uniform(0.5, 4.0), 2)
            for _ in range(self.spec.flats_per_filter):
                self.frame("FLAT", exposure, "")
        self.emit("FLAT-LIGHT-TOGGLED", after=2.0)  # off, with no run going on
        self.enter("idle", "FLAT-LIGHT-TOGGLED")

    # -- the Target Scheduler night
    def scheduler_night(self) -> None:
        spec, rng = self.spec, self.rng
        self.emit("SAFETY-CHANGED", {"IsSafe": True}, after=rng.uniform(5.0, 20.0))
        self.emit("MOUNT-UNPARKED", after=rng.uniform(60.0, 180.0))
        self.wait(rng.uniform(120.0, 300.0))  # dusk
        self.evening_autofocus()
        filters: Sequence[str | None] = spec.filters or (None,)
        per_cycle = len(filters) * spec.lights_per_filter
        total = len(spec.targets) * spec.plan_cycles * per_cycle
        flip_at = total // 2 if spec.meridian_flip else -1
        done = 0
        last_focus = self.now
        for index, target in enumerate(spec.targets):
            if index == 1:
                self.scheduler_wait()
            for cycle in range(spec.plan_cycles):
                planned = per_cycle * (spec.light_exposure + 10.0)
                if cycle == 0:
                    self.ts_start("TS-NEWTARGETSTART", target, planned)
                self.ts_start("TS-TARGETSTART", target, planned)
                if cycle == 0:
                    self.guider_stop()
                    # Slew and plate-solve, within the guider stop's grace period.
                    self.emit("MOUNT-CENTER", after=rng.uniform(100.0, 170.0))
                    self.guider_start(twice=True)
                if (index > 0 and cycle == 0) or self.now - last_focus > timedelta(hours=1):
                    self.guider_stop()
                    self.autofocus(points=rng.randint(8, 10), spacing=rng.uniform(25.0, 30.0))
                    self.guider_start(twice=True)
                    last_focus = self.now
                since_dither = 0
                for filter_name in filters:
                    self.select_filter(filter_name)
                    for _ in range(spec.lights_per_filter):
                        if done == flip_at:
                            self.meridian_flip(guider_twice=True)
                        done += 1
                        # The last light: clouds come in, detection finds nothing.
                        self.frame("LIGHT", spec.light_exposure, target, detected=done < total)
                        since_dither += 1
                        if spec.dither_every and since_dither >= spec.dither_every:
                            self.dither()
                            since_dither = 0
        self.focus_cut_by_clouds()
        self.dawn_flats()
        self.emit("SEQUENCE-FINISHED", after=rng.uniform(5.0, 15.0))
        self.enter("idle", "SEQUENCE-FINISHED")

    def evening_autofocus(self) -> None:
        """Focus before any target, the night's first work: 8-10 points over 4-5 minutes."""
        points = self.rng.randint(8, 10)
        self.autofocus(points=points, spacing=self.rng.uniform(250.0, 290.0) / points)

    def ts_start(self, name: str, target: str, planned_seconds: float) -> None:
        data = self.target_data(target, planned_seconds, naive_end=True)
        self.emit(name, data, after=3.0 if name == "TS-NEWTARGETSTART" else 0.0)
        self.enter("imaging", name)

    def scheduler_wait(self) -> None:
        """Nothing to image yet: wait (guider stopped, mount homed) in silence until its end."""
        rng = self.rng
        end = self.now + timedelta(minutes=rng.uniform(35.0, 55.0))
        self.emit("TS-WAITSTART", {"WaitEndTime": net_time(self._local(end))}, after=5.0)
        self.enter("waiting", "TS-WAITSTART")
        self.guider_stop()
        self.emit("MOUNT-HOMED", after=rng.uniform(30.0, 90.0))
        self.now = max(self.now, end)

    def focus_cut_by_clouds(self) -> None:
        """After the last light an autofocus starts, and the sky turns unsafe before it ends."""
        rng = self.rng
        self.guider_stop()
        self.start_autofocus(rng.randint(3, 4), 9, rng.uniform(25.0, 30.0))
        self.truth.autofocus_failed += 1  # never FINISHED
        self.emit("SAFETY-CHANGED", {"IsSafe": False}, after=rng.uniform(5.0, 15.0))
        self.truth.pauses += 1
        self.enter("paused", "SAFETY-CHANGED")
        self.emit("MOUNT-HOMED", after=rng.uniform(30.0, 90.0))  # unsafe: paused, not waiting
        self.wait(rng.uniform(150.0, 210.0) * 60)  # until dawn: longer than an idle gap

    def dawn_flats(self) -> None:
        """Panel flats per filter (the one in place first); FILTERWHEEL-CHANGED fires anyway."""
        spec, rng = self.spec, self.rng
        self.emit("FLAT-LIGHT-TOGGLED", after=rng.uniform(10.0, 30.0))  # on
        self.enter("flats", "FLAT-LIGHT-TOGGLED")
        first = [self.filter] if self.filter in spec.filters else []
        order = first + [f for f in spec.filters if f not in first]
        brightness = 0
        for index, filter_name in enumerate(order or [None]):
            if filter_name is not None:
                self.filter_changed(filter_name)
            narrow = (filter_name or "").upper() in NARROWBAND
            new = rng.randint(2048, 4096) if narrow else rng.randint(80, 600)  # raw units
            self.emit("FLAT-BRIGHTNESS-CHANGED", {"Previous": brightness, "New": new}, after=1.0)
            brightness = new
            if filter_name is not None and index % 2 == 0:
                self.filter_changed(filter_name)  # selected again: Previous == New
            exposure = round(rng.uniform(0.2, 3.0), 2)
            for _ in range(spec.flats_per_filter or rng.randint(7, 15)):
                self.frame("FLAT", exposure, "")
        # Off while the run still goes on (SEQUENCE-FINISHED comes next): the state stays flats.
        self.emit("FLAT-LIGHT-TOGGLED", after=2.0)

    def build(self) -> Night:
        spec = self.spec
        self.connect_equipment()
        if spec.scheduler_night:
            if not spec.targets or spec.lights_per_filter <= 0:
                raise ValueError("a scheduler night needs targets and lights")
            self.scheduler_night()
        else:
            if spec.targets and spec.lights_per_filter > 0:
                self.imaging()
            if spec.flats_per_filter > 0:
                self.flats()
        for _ in range(spec.darks):
            self.frame("DARK", spec.dark_exposure, "")
        for _ in range(spec.bias):
            self.frame("BIAS", 0.0, "")
        return Night(spec, self.events, self.truth, self.app_starts)


def generate_night(spec: NightSpec) -> Night:
    """Generate one night; the same spec always gives the same night."""
    return _Builder(spec).build()


_FILTER_SETS: tuple[tuple[str, ...], ...] = (
    ("L", "R", "G", "B"),
    ("Ha", "OIII", "SII"),
    ("L", "R", "G", "B", "Ha", "OIII"),
)


def generate_week(
    start_date: date,
    nights: int = 7,
    seed: int = 0,
    tz: str = "Europe/Berlin",
    *,
    scheduler_nights: bool = False,
) -> list[Night]:
    """Consecutive, varied nights (targets, filters, weather, flips, restarts, calibration).

    scheduler_nights: about half the nights become Target Scheduler nights as real rigs record
    them; drawn from a second generator, so the classic nights stay those of the same seed.
    """
    rng = random.Random(seed)
    ts_rng = random.Random(seed + 0x75)
    week: list[Night] = []
    for i in range(nights):
        old = rng.random() < 0.1
        spec = NightSpec(
            date=start_date + timedelta(days=i),
            tz=tz,
            seed=rng.randrange(2**31),
            targets=rng.sample(sorted(CATALOG), rng.choice((1, 1, 2))),
            filters=rng.choice(_FILTER_SETS),
            light_exposure=rng.choice((120.0, 180.0, 300.0)),
            lights_per_filter=rng.randint(2, 6),
            dither_every=rng.choice((0, 2, 3, 5)),
            autofocus_every_filter_change=rng.random() < 0.7,
            meridian_flip=rng.random() < 0.4,
            cloud_pause=rng.random() < 0.3,
            nina_restart=rng.random() < 0.15,
            flats_per_filter=0 if old else rng.choice((0, 0, 5)),
            darks=0 if old else rng.choice((0, 0, 5)),
            dark_exposure=300.0,
            bias=0 if old else rng.choice((0, 10)),
            use_target_scheduler=old or rng.random() < 0.5,
            old_plugin=old,
            start_hour=round(rng.uniform(18.0, 21.0), 2),
            af_error_every=rng.choice((0, 0, 0, 3)),
        )
        if scheduler_nights and ts_rng.random() < 0.5:
            spec = replace(
                spec,
                targets=ts_rng.sample(sorted(CATALOG), ts_rng.choice((2, 3))),
                lights_per_filter=2,
                scheduler_night=True,
                real_calibration_stats=True,
                wire=WireShape.real(spec.seed),
                darks=0,
                bias=0,
            )
        week.append(generate_night(spec))
    return week


_PRESET_DATE = date(2026, 11, 24)

PRESETS: dict[str, NightSpec] = {
    "full": NightSpec(
        date=_PRESET_DATE,
        seed=1,
        targets=("M 31", "NGC 7000"),
        filters=("L", "R", "G", "B", "Ha", "OIII"),
        light_exposure=300.0,
        lights_per_filter=4,
        dither_every=2,
        meridian_flip=True,
        cloud_pause=True,
        nina_restart=True,
        flats_per_filter=5,
        darks=5,
        bias=10,
        use_target_scheduler=True,
        af_error_every=5,
    ),
    "simple": NightSpec(
        date=_PRESET_DATE,
        seed=2,
        targets=("M 42",),
        filters=("Ha", "OIII"),
        light_exposure=120.0,
        lights_per_filter=3,
        dither_every=2,
    ),
    "old_plugin": NightSpec(
        date=_PRESET_DATE,
        seed=3,
        targets=("M 33",),
        filters=("L", "R"),
        light_exposure=180.0,
        lights_per_filter=3,
        dither_every=3,
        old_plugin=True,
    ),
    "calibration_only": NightSpec(
        date=_PRESET_DATE,
        seed=4,
        targets=(),
        filters=("L", "R", "G", "B"),
        lights_per_filter=0,
        flats_per_filter=5,
        darks=5,
        dark_exposure=120.0,
        bias=10,
    ),
    "osc": NightSpec(
        date=_PRESET_DATE,
        seed=5,
        targets=("NGC 2237",),
        filters=(),
        light_exposure=180.0,
        lights_per_filter=6,
        dither_every=3,
        camera="ZWO ASI2600MC Pro",
    ),
    # A Target Scheduler night as plugin 2.2.15 on a real rig records it (wire shapes too).
    "target_scheduler": NightSpec(
        date=_PRESET_DATE,
        seed=6,
        targets=("NGC 7000", "IC 1396", "M 81"),
        filters=("L", "R", "G", "B", "Ha"),
        light_exposure=180.0,
        lights_per_filter=2,
        dither_every=3,
        meridian_flip=True,
        start_hour=18.0,
        scheduler_night=True,
        plan_cycles=2,
        real_calibration_stats=True,
        wire=WireShape.real(seed=6),
    ),
    # Panel flats NINA's image history never recorded: only sparse IMAGE-SAVEs in the history.
    "flats_unrecorded": NightSpec(
        date=_PRESET_DATE,
        seed=7,
        targets=(),
        filters=("L", "R", "G"),
        lights_per_filter=0,
        flats_per_filter=8,
        real_calibration_stats=True,
        flats_in_image_history=False,
    ),
}


def preset_night(name: str, **changes: Any) -> Night:
    """Generate a preset, optionally with fields replaced (e.g. `date=...`, `seed=...`)."""
    return generate_night(replace(PRESETS[name], **changes))
