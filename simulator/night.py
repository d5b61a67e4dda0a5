"""Deterministic generator of realistic N.I.N.A. nights, with ground truth.

A night is a list of `SimEvent`s (what the Advanced API plugin pushes on `/v2/socket`, with the
time NINA raised each one) plus a `GroundTruth` counted while generating, independently of the
event list. Helpers turn events into the plugin's wire shapes: socket message, event-history
item, image-history record and the JSONL replay format.

Stdlib only; every random choice comes from `random.Random(spec.seed)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
import copy
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
import json
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

JsonDict = dict[str, Any]

NAN = math.nan  # one shared object, so events holding NaN still compare equal
NO_FILTER = "none"
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

    def __post_init__(self) -> None:
        """Store `targets` and `filters` as tuples, so the spec stays hashable."""
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "filters", tuple(self.filters))


@dataclass(frozen=True)
class SimEvent:
    """One plugin event: `data` holds the keys beside "Event" in the socket `Response`."""

    time: datetime  # aware, in NINA's zone
    name: str
    data: JsonDict = field(default_factory=dict, hash=False)
    epoch: int = 0  # NINA process generation: 0, then 1 after a restart


@dataclass
class GroundTruth:
    """What really happened. Frames without a filter count under "none"."""

    lights_by_filter: dict[str, int] = field(default_factory=dict)
    light_seconds_by_filter: dict[str, float] = field(default_factory=dict)
    frames_by_type: dict[str, int] = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    dithers: int = 0
    autofocus_runs: int = 0  # AUTOFOCUS-FINISHED
    meridian_flips: int = 0  # MOUNT-AFTER-FLIP
    pauses: int = 0  # SAFETY-CHANGED to unsafe
    errors: int = 0  # ERROR-* events
    nina_restarts: int = 0

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


# --------------------------------------------------------------------------- wire shapes


def net_time(dt: datetime) -> str:
    """Format an aware datetime as .NET writes a local DateTime: round-trip, 7 fraction digits.

    Like Newtonsoft (`FFFFFFF`) and System.Text.Json, trailing zeros of the fraction are trimmed.
    The 7th digit (100 ns ticks, which Python lacks) is derived from the microseconds.
    """
    ticks = f"{dt.microsecond:06d}{dt.microsecond * 7 % 10}".rstrip("0")
    offset = dt.strftime("%z")
    return f"{dt:%Y-%m-%dT%H:%M:%S}{'.' + ticks if ticks else ''}{offset[:3]}:{offset[3:]}"


def socket_message(ev: SimEvent) -> JsonDict:
    """Return the message the plugin pushes on `/v2/socket` for this event."""
    return {
        "Response": {"Event": ev.name, **copy.deepcopy(ev.data)},
        "Error": "",
        "StatusCode": 200,
        "Success": True,
        "Type": "Socket",
    }


def history_item(ev: SimEvent) -> JsonDict:
    """Return the `/event-history` item: IMAGE-SAVE items are sparse (only Event and Time)."""
    data = {} if ev.name == "IMAGE-SAVE" else copy.deepcopy(ev.data)
    return {"Event": ev.name, **data, "Time": net_time(ev.time)}


def image_record(ev: SimEvent) -> JsonDict:
    """Return the `/image-history` record of an IMAGE-SAVE event (its ImageStatistics)."""
    stats = ev.data.get("ImageStatistics") if ev.name == "IMAGE-SAVE" else None
    if not isinstance(stats, dict):
        raise TypeError(f"{ev.name} carries no ImageStatistics")
    return copy.deepcopy(stats)


def to_rest(value: Any) -> Any:
    """Prepare a payload as the plugin's REST side (System.Text.Json) writes it.

    Non-finite floats become the strings "NaN"/"Infinity"/"-Infinity"; null members are omitted.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: to_rest(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_rest(v) for v in value]
    return value


def socket_text(ev: SimEvent) -> str:
    """Return the socket frame text (Newtonsoft style: bare NaN, raw UTF-8)."""
    return json.dumps(socket_message(ev), ensure_ascii=False)


def to_jsonl_lines(
    events: Iterable[SimEvent], receive_delay: timedelta = timedelta(milliseconds=50)
) -> list[str]:
    """Replay format: `{"t": <receive time, ISO 8601 UTC>, "frame": <socket message>}` a line."""
    lines = []
    for ev in events:
        received = (ev.time + receive_delay).astimezone(UTC).isoformat()
        lines.append(json.dumps({"t": received, "frame": socket_message(ev)}, ensure_ascii=False))
    return lines


def truth_from_events(events: Iterable[SimEvent]) -> GroundTruth:
    """Count what the event list shows, the way a perfect consumer would.

    A frame without ImageType counts as LIGHT; a light without TargetName belongs to the latest
    TS-TARGETSTART target (else to no target). Equal to `Night.truth` for every night except
    old-plugin nights with calibration frames or without Target Scheduler (the wire lacks it).
    """
    truth = GroundTruth()
    ts_target: str | None = None
    last_epoch: int | None = None
    for ev in events:
        if last_epoch is not None and ev.epoch > last_epoch:
            truth.nina_restarts += 1
        last_epoch = ev.epoch
        if ev.name == "IMAGE-SAVE":
            stats = ev.data.get("ImageStatistics")
            if not isinstance(stats, dict):
                continue
            kind = str(stats.get("ImageType") or "LIGHT")
            truth.add_frame(kind, stats.get("Filter"), float(stats.get("ExposureTime") or 0.0))
            if kind == "LIGHT":
                truth.add_target(stats.get("TargetName") or ts_target)
        elif ev.name == "TS-TARGETSTART":
            ts_target = str(ev.data.get("TargetName") or "") or None
        elif ev.name == "GUIDER-DITHER":
            truth.dithers += 1
        elif ev.name == "AUTOFOCUS-FINISHED":
            truth.autofocus_runs += 1
        elif ev.name == "MOUNT-AFTER-FLIP":
            truth.meridian_flips += 1
        elif ev.name == "SAFETY-CHANGED" and ev.data.get("IsSafe") is False:
            truth.pauses += 1
        elif ev.name.startswith("ERROR-"):
            truth.errors += 1
    return truth


# --------------------------------------------------------------------------- generator


def _ra_string(hours: float) -> str:
    total = round(hours * 3600) % 86400
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def _dec_string(degrees: float) -> str:
    total = round(abs(degrees) * 3600)
    sign = "-" if degrees < 0 else ""
    return f"{sign}{total // 3600:02d}° {total % 3600 // 60:02d}' {total % 60:02d}\""


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

    # -- clock and emission
    def _local(self, t: datetime) -> datetime:
        return t.astimezone(self.tz)

    def wait(self, seconds: float) -> None:
        self.now += timedelta(seconds=max(seconds, 0.0))

    def emit(self, name: str, data: JsonDict | None = None, after: float = 0.0) -> SimEvent:
        self.wait(after + self.rng.uniform(0.005, 0.25))
        ev = SimEvent(self._local(self.now), name, data or {}, self.epoch)
        self.events.append(ev)
        return ev

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
        ids = list(self.spec.filters)
        data = {
            "Previous": {"Name": self.filter, "Id": ids.index(self.filter)},
            "New": {"Name": name, "Id": ids.index(name)},
        }
        self.filter = name
        self.emit("FILTERWHEEL-CHANGED", data, after=self.rng.uniform(3.0, 8.0))

    def autofocus(self, may_fail: bool = True) -> None:
        self.af_attempts += 1
        every = self.spec.af_error_every
        fails = may_fail and every > 0 and self.af_attempts % every == 0
        self.emit("AUTOFOCUS-STARTING", after=2.0)
        best = self.focus + self.rng.randint(-40, 40)
        min_hfr = self.rng.uniform(1.6, 2.4)
        for k in (-2, -1, 0, 1, 2)[: 3 if fails else 5]:
            pos = best + 60 * k + self.rng.randint(-3, 3)
            hfr = min_hfr + 0.00012 * (pos - best) ** 2 + self.rng.uniform(-0.05, 0.05)
            self.emit("AUTOFOCUS-POINT-ADDED", {"HFR": round(hfr, 3), "Position": pos}, after=20.0)
        if fails:
            self.emit("ERROR-AF", after=3.0)
            self.truth.errors += 1
            self.autofocus(may_fail=False)
            return
        self.focus = best
        self.emit("AUTOFOCUS-FINISHED", after=self.rng.uniform(8.0, 15.0))
        self.truth.autofocus_runs += 1

    def guider_start(self) -> None:
        self.emit("GUIDER-START", after=self.rng.uniform(20.0, 45.0))
        self.guiding = True

    def guider_stop(self) -> None:
        if self.guiding:
            self.emit("GUIDER-STOP", after=1.0)
            self.guiding = False

    def start_target(self, target: str, planned_seconds: float) -> None:
        if self.spec.use_target_scheduler:
            ra, dec = CATALOG.get(target) or (self.rng.uniform(0, 24), self.rng.uniform(-10, 80))
            end = self._local(self.now + timedelta(seconds=planned_seconds * 1.2))
            data = {
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
                "TargetEndTime": net_time(end),
            }
            self.emit("TS-TARGETSTART", data, after=3.0)
        self.guider_stop()
        self.emit("MOUNT-CENTER", after=self.rng.uniform(60.0, 120.0))
        self.guider_start()

    def frame(self, kind: str, exposure: float, target: str) -> None:
        """One exposure: IMAGE-PREPARED then IMAGE-SAVE (exposure end + download)."""
        start = self._local(self.now)
        self.wait(exposure)
        self.emit("IMAGE-PREPARED", after=self.rng.uniform(1.5, 2.5))
        self.wait(self.rng.uniform(0.2, 0.6))
        saved = self._local(self.now)
        stats = self._stats(kind, exposure, target, start, saved)
        self.emit("IMAGE-SAVE", {"ImageStatistics": stats}, after=0.0)
        self.truth.add_frame(kind, self.filter, exposure)
        if kind == "LIGHT":
            self.truth.add_target(target)

    def _stats(
        self, kind: str, exposure: float, target: str, start: datetime, saved: datetime
    ) -> JsonDict:
        spec, rng = self.spec, self.rng
        hfr = hfr_sd = NAN
        stars = 0
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
            "Filter": self.filter,
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
        self.guider_stop()
        self.emit("MOUNT-PARKED", after=self.rng.uniform(40.0, 90.0))
        self.wait(self.rng.uniform(17.0, 24.0) * 60)
        self.emit("SAFETY-CHANGED", {"IsSafe": True})
        self.emit("MOUNT-UNPARKED", after=self.rng.uniform(20.0, 40.0))
        self.emit("MOUNT-CENTER", after=self.rng.uniform(60.0, 120.0))
        self.guider_start()

    def meridian_flip(self) -> None:
        self.guider_stop()
        self.emit("MOUNT-BEFORE-FLIP", after=2.0)
        self.emit("MOUNT-AFTER-FLIP", after=self.rng.uniform(150.0, 200.0))
        self.truth.meridian_flips += 1
        self.emit("MOUNT-CENTER", after=self.rng.uniform(45.0, 90.0))
        self.guider_start()

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

    # -- the night
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
                        self.emit("GUIDER-DITHER", after=0.5)
                        self.truth.dithers += 1
                        self.wait(self.rng.uniform(8.0, 20.0))  # settle
                        since_dither = 0
        self.guider_stop()
        self.emit("MOUNT-PARKED", after=self.rng.uniform(40.0, 90.0))
        self.emit("SEQUENCE-FINISHED", after=2.0)

    def flats(self) -> None:
        self.wait(self.rng.uniform(120.0, 600.0))
        self.emit("FLAT-COVER-CLOSED", after=10.0)
        self.emit("FLAT-LIGHT-TOGGLED", after=2.0)  # on
        brightness = 0
        for filter_name in self.spec.filters or (None,):
            self.select_filter(filter_name)
            new = self.rng.randint(5, 90)
            self.emit("FLAT-BRIGHTNESS-CHANGED", {"Previous": brightness, "New": new}, after=1.0)
            brightness = new
            exposure = round(self.rng.uniform(0.5, 4.0), 2)
            for _ in range(self.spec.flats_per_filter):
                self.frame("FLAT", exposure, "")
        self.emit("FLAT-LIGHT-TOGGLED", after=2.0)  # off

    def build(self) -> Night:
        spec = self.spec
        self.connect_equipment()
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
    start_date: date, nights: int = 7, seed: int = 0, tz: str = "Europe/Berlin"
) -> list[Night]:
    """Consecutive, varied nights (targets, filters, weather, flips, restarts, calibration)."""
    rng = random.Random(seed)
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
}


def preset_night(name: str, **changes: Any) -> Night:
    """Generate a preset, optionally with fields replaced (e.g. `date=...`, `seed=...`)."""
    return generate_night(replace(PRESETS[name], **changes))
