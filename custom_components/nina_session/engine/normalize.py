"""Normalizer: UTC times, clean data, and sparse IMAGE-SAVE events enriched from context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
import hashlib
import json
import math
import re
from typing import Any

from .errors import FrameError
from .models import NO_FILTER, Frame, NinaEvent, Source, frame_identity
from .timeutil import night_end, night_of, nina_instant, parse_nina_time
from .wire import (
    NO_DATA_TEXT,
    HistoryColumns,
    ImageRecord,
    WireEvent,
    parse_image_record,
    sparse_event,
)

IMAGE_SAVE = "IMAGE-SAVE"
#: The type of a saved frame nothing tells (a sparse history IMAGE-SAVE without its record).
UNKNOWN_TYPE = "UNKNOWN"
#: Target Scheduler writes its times without an offset, and they are UTC (the plugin drops the
#: offset of a UTC DateTime); every other offset-less time is NINA's local time.
_UTC_PREFIX = "TS-"

# `RmsText` is display text such as `Tot: 0.62 (0.55")`: pixels first, arcseconds in brackets.
_RMS_ARCSEC = re.compile(r"Tot:\s*[-\d.,]+\s*\(\s*([\d.,]+)\s*\"?\s*\)")
_RMS_ANY = re.compile(r"([\d]+[.,]?[\d]*)\s*\"")

# A history IMAGE-SAVE is matched to the last image record dated before it; since
# the plugin stamps an image's Date when it is saved, so allow a little after the save.
_PAIRING_SLACK = timedelta(seconds=1)


def parse_rms_arcsec(text: str | None) -> float | None:
    """Guiding RMS total in arcseconds from the plugin's `RmsText`, if it says so."""
    if not text:
        return None
    return _read_rms(text) if len(text) > _RMS_TEXT_CACHED else _cached_rms(text)


def _read_rms(text: str) -> float | None:
    match = _RMS_ARCSEC.search(text) or _RMS_ANY.search(text)
    if match is None:
        return None
    try:
        return float(match.group(1).replace(",", "."))
    except ValueError:
        return None


# A night's frames repeat a few hundred texts (two decimals each): each is read once. Only
# texts of the plugin's length are kept, as input decides what goes in.
_cached_rms = lru_cache(maxsize=1024)(_read_rms)
_RMS_TEXT_CACHED = 48


def clean_json(value: Any) -> Any:
    """Copy of `value` that strict JSON can hold: NaN/inf become None.

    An empty list inside an object is the event history's placeholder for a value it could not
    serialize (plugin 2.2.12.1 and later: `"Coordinates":{"RA":[],...}`): it means "not
    known" and becomes None, so it is never shown or learned as a value.
    """
    kind = type(value)  # exact types first: the ABC checks below are slow on the hot path
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict or isinstance(value, Mapping):
        return {str(key): None if item == [] else clean_json(item) for key, item in value.items()}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


_NON_FINITE_TEXT = {"NaN", "Infinity", "-Infinity"}


def _comparable(value: Any) -> Any:
    """Return an event's data as its fingerprint hashes it: what both copies of it agree on.

    The socket writes missing readings as null or bare NaN, REST omits nulls and writes
    "NaN" as text; whole numbers are `0.0` on the socket and `0` in history; and the history
    of plugin 2.2.12.1 and later replaces every value inside a nested object with `[]`. So
    nested objects (and their placeholders) are left out, as are missing readings, and whole
    numbers hash as integers: a live event and its history twin hash the same.
    """
    pairs = ((str(key), _scalar(item)) for key, item in value.items())
    return {key: item for key, item in pairs if item is not None}


def has_nested(data: Mapping[str, Any]) -> bool:
    """Return whether the data holds a nested object, which its fingerprint leaves out."""
    return any(isinstance(value, Mapping) for value in data.values())


def _scalar(value: Any) -> Any:
    """Return a top-level value as the fingerprint sees it; None for what it leaves out."""
    kind = type(value)  # exact types first: the ABC check below is slow on the hot path
    if kind is int or kind is bool or value is None:
        return value
    if kind is str:
        return None if value in _NON_FINITE_TEXT else value
    if kind is float:
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping) or value == []:
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, list):
        return [_scalar(item) for item in value]
    if isinstance(value, str) and value in _NON_FINITE_TEXT:
        return None
    return value


#: One encoder for every fingerprint: json.dumps builds a new one per call when given options.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str).encode


def content_fingerprint(name: str, data: Mapping[str, Any]) -> str:
    """Name plus a short hash of the event's data: equal content, equal fingerprint."""
    comparable = _comparable(data) if data else None  # most events carry no data
    if not comparable:
        return name
    payload = _FINGERPRINT_JSON(comparable)
    digest = hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()
    return f"{name}#{digest}"


@dataclass(slots=True)
class _Context:
    """What earlier events told us, used to fill in the names a frame's record lacks.

    Each name holds only while what taught it holds (`Normalizer._learn`): the equipment's
    names until the device or the profile changes, the target for its run and its night.
    """

    target: str | None = None
    filter: str | None = None
    camera: str | None = None
    telescope: str | None = None


#: What an event makes untrue. A wheel (dis)connected may hold any filter or none (NINA sends
#: no FILTERWHEEL-CHANGED for the first selection), a camera (dis)connected may be another,
#: another profile is another rig, and a sequence's start or end ends its run's target.
_FORGETS: dict[str, tuple[str, ...]] = {
    "FILTERWHEEL-CONNECTED": ("filter",),
    "FILTERWHEEL-DISCONNECTED": ("filter",),
    "CAMERA-CONNECTED": ("camera",),
    "CAMERA-DISCONNECTED": ("camera",),
    "PROFILE-CHANGED": ("filter", "camera", "telescope"),
    "SEQUENCE-STARTING": ("target",),
    "SEQUENCE-FINISHED": ("target",),
}
#: The events the context learns from or forgets with (`Normalizer._learn`).
_LEARNED_FROM = frozenset({"TS-TARGETSTART", "TS-NEWTARGETSTART", "FILTERWHEEL-CHANGED", *_FORGETS})


class Normalizer:
    """Stateful normalizer; its context follows the event stream in order."""

    def __init__(self, tz: tzinfo) -> None:
        """Initialize with NINA's timezone (for offset-less times) and no context."""
        self.tz = tz
        self._context = _Context()
        #: When the observing night the target was learned in ends: targets are per night.
        #: Not saved with the context (the version before could not load a context with it):
        #: a restored target is taken as the one of the night going on (`_known_target`).
        self._target_until: datetime | None = None
        #: History times as read in order: the events' own, and their frames' capture times.
        self._event_times = _HistoryClock()
        self._capture_times = _HistoryClock()

    def snapshot(self) -> dict[str, Any]:
        """Return the context as JSON-safe data to persist."""
        return asdict(self._context)

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Restore the context from a `snapshot()`."""
        self._context = _Context(**snap)
        self._target_until = None

    def forget(self) -> None:
        """Forget all context: what follows is a NINA process's events from its start."""
        self.restore({})

    def normalize(
        self, wire: WireEvent, source: Source, image: ImageRecord | None = None
    ) -> NinaEvent:
        """Normalize one event. `image` enriches a sparse history IMAGE-SAVE."""
        name, raw, time_text = wire.name, wire.data, wire.time_text
        micros: int | None = None  # the time in POSIX microseconds, when read from a text
        if time_text is None:
            time = _received_time(wire)
        else:
            zone = _zone_of(name, self.tz)
            if source == _HISTORY:
                time, micros = self._event_times.read(time_text, zone)
            else:
                time, micros = nina_instant(time_text, zone)
        data: dict[str, Any]
        if wire.plain and type(raw) is dict:
            # Known strict and placeholder-free (`WireEvent.plain`): the parser's copy is kept.
            data, text = raw, wire.text
        else:
            data, text = clean_json(raw) if raw else {}, None  # most events carry no data
        return self._event(name, time, micros, data, text, source, image)

    def normalize_history(
        self, history: HistoryColumns, images: Sequence[ImageRecord | None]
    ) -> tuple[list[NinaEvent], list[tuple[str, FrameError]]]:
        """Normalize a history read (oldest first) with one image record (or None) per item.

        Returns the events and each item refused, by name, with why. An item with data is a
        `WireEvent` and goes through `normalize`; the others, most of a night's (a name and a
        time), are read here without one: `wire.sparse_event` is what they would be.
        """
        events: list[NinaEvent] = []
        refused: list[tuple[str, FrameError]] = []
        append, normalize, tz = events.append, self.normalize, self.tz
        clock, frame_event, build = self._event_times, self._frame_event, _build_event
        source = Source.HISTORY
        # Each name's zone, found once per read: a night's items have a few dozen names.
        zones = {name: _zone_of(name, tz) for name in set(history.names)}
        columns = zip(history.names, history.times, history.events, images, strict=True)
        for name, time_text, wire, image in columns:
            try:
                if wire is not None or time_text is None:
                    append(normalize(wire or sparse_event(name, time_text), source, image))
                    continue
                # What `clock.read` gives, its call saved while times go forward (always but
                # in the hour summer time repeats): a call per item was a tenth of the loop.
                time, micros = nina_instant(time_text, zones[name])
                if micros < clock.last:
                    time, micros = clock.read(time_text, zones[name])
                else:
                    clock.last = micros
                if name == IMAGE_SAVE:
                    append(frame_event(name, time, micros, {}, NO_DATA_TEXT, source, image))
                elif name in _LEARNED_FROM:
                    append(self._event(name, time, micros, {}, NO_DATA_TEXT, source, image))
                else:  # what `_event` makes of it, without the call: its name at its time
                    append(build(name, time, micros, {}, source, name, False, None, NO_DATA_TEXT))
            except FrameError as err:
                refused.append((name, err))
        return events, refused

    def _event(
        self,
        name: str,
        time: datetime,
        micros: int | None,
        data: dict[str, Any],
        text: str | None,
        source: Source,
        image: ImageRecord | None,
    ) -> NinaEvent:
        """Make the event of a read time and clean data, learning context from it."""
        if name in _LEARNED_FROM:
            self._learn(name, data, time)
        if name != IMAGE_SAVE:
            fingerprint = content_fingerprint(name, data) if data else name
            return _build_event(name, time, micros, data, source, fingerprint, False, None, text)
        return self._frame_event(name, time, micros, data, text, source, image)

    def _frame_event(
        self,
        name: str,
        time: datetime,
        micros: int | None,
        data: dict[str, Any],
        text: str | None,
        source: Source,
        image: ImageRecord | None,
    ) -> NinaEvent:
        """Make the event of an IMAGE-SAVE (see `_event`), its frame from `image` or its data."""
        stats = data.get("ImageStatistics")
        own = image is None and "ImageStatistics" in data
        if own:
            image = parse_image_record(stats)
        frame, captured_us, iso = self._frame(image, source, time)
        in_data = own and _gives_back(stats, frame)
        if frame.taken_at is not None:
            fingerprint, key_us = frame_identity(frame.taken_at, captured_us, iso)
            return _build_event(
                name, time, micros, data, source, fingerprint, True, frame, text, in_data, key_us
            )
        return _build_event(
            name, time, micros, data, source, IMAGE_SAVE, False, frame, text, in_data
        )

    def start_history(self) -> None:
        """Begin a new history read (oldest first): forget the previous one's last times."""
        self._event_times.last = self._capture_times.last = _BEFORE_ANY

    def _learn(self, name: str, data: Mapping[str, Any], time: datetime) -> None:
        if name in ("TS-TARGETSTART", "TS-NEWTARGETSTART"):
            target = data.get("TargetName")
            if isinstance(target, str) and target.strip():
                self._learn_target(target.strip(), time)
        elif name == "FILTERWHEEL-CHANGED":
            if _new_filter(data) is None:  # moved, to a filter the history hides: unknown
                self._context.filter = None
            else:
                self._context.filter = filter_change(data) or self._context.filter
        else:
            for field in _FORGETS[name]:
                if field == "target":
                    self._learn_target(None, time)  # and its night
                else:
                    setattr(self._context, field, None)

    def _learn_target(self, target: str | None, time: datetime) -> None:
        """Take `target` as the one imaged now, true until its observing night ends."""
        self._context.target = target
        self._target_until = None if target is None else night_end(night_of(time, self.tz), self.tz)

    def _known_target(self, time: datetime) -> str | None:
        """Return the target context knows at `time`: none once its night is over."""
        until = self._target_until
        if until is None and self._context.target is not None:  # restored: tonight's
            self._learn_target(self._context.target, time)
        elif until is not None and time >= until:
            self._learn_target(None, time)
        return self._context.target

    def _frame(
        self, image: ImageRecord | None, source: Source, time: datetime
    ) -> tuple[Frame, int | None, str | None]:
        """Build the frame of an IMAGE-SAVE at `time`, filling what the record lacks from context.

        Returns it with its capture time in POSIX microseconds and in ISO text without its
        offset (`nina_instant`; None if it has none).

        A record's equipment names are its own, an empty one too: the plugin always sends
        `Filter`, `CameraName` and `TelescopeName`, "" when there is no such device (no filter
        wheel). Context fills them only for a frame with no record at all (a sparse history
        IMAGE-SAVE: `_unrecorded_frame`). Only the target may be missing from a record (older
        plugins).
        """
        if image is None:
            return self._unrecorded_frame(time), None, None
        ctx = self._context
        inferred: tuple[str, ...] = ()  # mostly stays empty: no list made and copied per frame
        image_type = image.image_type
        if image_type is None:
            # A record without a type is an older plugin's (mostly lights). The tracker reads
            # it as FLAT while the flat panel is lit.
            image_type = "LIGHT"
            inferred = ("image_type",)
        target = image.target
        if target is None:
            target = self._known_target(time)
            if target is not None:
                inferred += ("target",)
        elif image_type == "LIGHT" and not (
            # Already known as the one imaged now (most frames): nothing to learn.
            target == ctx.target and (until := self._target_until) is not None and time < until
        ):
            self._learn_target(target, time)
        # Frames tell the current equipment (the first filter gets no FILTERWHEEL-CHANGED).
        ctx.filter = image.filter
        ctx.camera = image.camera
        ctx.telescope = image.telescope
        taken_at = captured_us = iso = None
        if image.date_text is not None:
            try:
                taken_at, captured_us, iso = nina_instant(image.date_text, self.tz, iso=True)
                if source == _HISTORY:  # `read_iso` of the capture times' clock, see the events'
                    clock = self._capture_times
                    if captured_us < clock.last:
                        taken_at, captured_us, iso = clock.read_iso(image.date_text, self.tz)
                    else:
                        clock.last = captured_us
            except FrameError:
                inferred += ("taken_at_unreadable",)
        names = (target, image.filter, image.camera, image.telescope)
        return _frame_of(image, image_type, names, taken_at, inferred), captured_us, iso

    def _unrecorded_frame(self, time: datetime) -> Frame:
        """Build the frame of an IMAGE-SAVE without a record: all but its time from context.

        Without a record there is no type (`UNKNOWN_TYPE`: the tracker reads it as FLAT
        while the flat panel is lit) and no capture time.
        """
        ctx = self._context
        inferred = ["image_type"]
        names = (
            _known(inferred, "target", self._known_target(time)),
            _known(inferred, "filter", ctx.filter),
            _known(inferred, "camera", ctx.camera),
            _known(inferred, "telescope", ctx.telescope),
        )
        return _frame_of(_NO_RECORD, UNKNOWN_TYPE, names, None, tuple(inferred))


class _HistoryClock:
    """Reads one kind of history time in the history's order (oldest first).

    An offset-less time in the hour that repeats when summer time ends is the second pass if
    the first would go back in time. An event's time and its frame's capture time are two
    such orders (`Normalizer._event_times`, `Normalizer._capture_times`).
    """

    __slots__ = ("last",)

    def __init__(self) -> None:
        """Start with no time read yet."""
        #: The last time read, in POSIX microseconds.
        self.last = _BEFORE_ANY

    def read(self, text: str, zone: tzinfo) -> tuple[datetime, int]:
        """Parse a history time (see `nina_instant`), choosing the pass of a repeated hour."""
        instant = nina_instant(text, zone)
        if instant[1] < self.last:
            instant = max(instant, nina_instant(text, zone, fold=1), key=_micros_of)
        self.last = instant[1]
        return instant

    def read_iso(self, text: str, zone: tzinfo) -> tuple[datetime, int, str]:
        """`read`, with the time's ISO text (a frame's capture time: its fingerprint's)."""
        # Its own method rather than a flag to `read`: the events' times pay nothing for it.
        instant = nina_instant(text, zone, iso=True)
        if instant[1] < self.last:
            instant = max(instant, nina_instant(text, zone, fold=1, iso=True), key=_micros_of)
        self.last = instant[1]
        return instant


#: Before any time a history holds (`_HistoryClock.last`): an integer, so no None to test.
_BEFORE_ANY = -(1 << 62)


def _zone_of(name: str, tz: tzinfo) -> tzinfo:
    """Return the zone an event's offset-less time is written in: UTC for Target Scheduler's."""
    return UTC if name.startswith(_UTC_PREFIX) else tz


def _micros_of(instant: tuple[datetime, int] | tuple[datetime, int, str]) -> int:
    return instant[1]


def _received_time(wire: WireEvent) -> datetime:
    """Return when a live event (it carries no time of its own) was received."""
    if wire.received_at is None:
        raise FrameError("bad_time", f"{wire.name} has neither Time nor receive time")
    return wire.received_at


def _known(inferred: list[str], field: str, known: str | None) -> str | None:
    """Return the name context knows for a frame without a record (noted in `inferred`)."""
    if known is not None:
        inferred.append(field)
    return known


#: The record of a frame that has none (`Normalizer._unrecorded_frame`).
_NO_RECORD = ImageRecord(*([None] * 12))


def _frame_of(
    record: ImageRecord,
    image_type: str,
    names: tuple[str | None, str | None, str | None, str | None],
    taken_at: datetime | None,
    inferred: tuple[str, ...],
) -> Frame:
    """Build a frame from a record and its final names (target, filter, camera, telescope)."""
    frame = _new_object(Frame)  # not its generated `__init__`: one is built per frame
    frame.target, filter_name, frame.camera, frame.telescope = names
    frame.image_type = image_type
    frame.exposure = record.exposure
    frame.filter = filter_name or NO_FILTER
    # HFR 0 and Stars -1 are what star detection reports when it found nothing
    # (calibration frames, clouds): no measurement, not a value to average.
    hfr, stars = record.hfr, record.stars
    frame.hfr = hfr if hfr is not None and hfr > 0 else None
    frame.stars = stars if stars is not None and stars >= 0 else None
    frame.guiding_rms = parse_rms_arcsec(record.rms_text)
    frame.temperature = record.temperature
    frame.taken_at = taken_at
    frame.filename = record.filename
    frame.inferred = inferred
    return frame


_new_object = object.__new__
#: Read per event: a member read from its enum class costs several times a global's read.
_HISTORY = Source.HISTORY
#: Bound once: looking a classmethod up binds it anew each time.
_build_event = NinaEvent.build


def _gives_back(stats: Any, frame: Frame) -> bool:
    """Return whether `own_frame` gives `frame` back from the statistics it was made of.

    True only when nothing was inferred (every name is the record's own), the type is the
    statistics' `ImageType` verbatim (queries filter on it in SQL), and the capture time
    reads the same in UTC as in NINA's zone (it carries its offset). The store relies on it
    to keep no frame: `stored_rows.derivable` is the slow check of the same thing.
    """
    if frame.inferred or stats.get("ImageType") != frame.image_type:
        return False
    if frame.taken_at is None:
        return True
    date_text = stats.get("Date")
    try:
        return parse_nina_time(date_text.strip(), UTC) == frame.taken_at
    except FrameError:
        return False


def own_frame(data: Mapping[str, Any]) -> Frame | None:
    """Return the frame an IMAGE-SAVE's own statistics give, nothing inferred, or None.

    The store keeps a frame only when this cannot give it back (context filled a name in,
    the statistics are missing, or the capture time has no offset): a live frame is then
    stored once, as the data that arrived, and its frame is read from that.
    """
    stats = data.get("ImageStatistics")
    if not isinstance(stats, Mapping):
        return None
    try:
        record = parse_image_record(stats)
        taken_at = parse_nina_time(record.date_text, UTC) if record.date_text else None
    except FrameError:
        return None
    if record.image_type is None:
        return None
    names = (record.target, record.filter, record.camera, record.telescope)
    return _frame_of(record, record.image_type, names, taken_at, ())


def filter_change(data: Mapping[str, Any]) -> str | None:
    """Return the filter a FILTERWHEEL-CHANGED moved to; None if unknown or no change.

    The plugin also sends it with Previous == New (several times in one flat run), and the
    history of recent plugins hides both names behind placeholders.
    """
    name = _new_filter(data)
    if name is None:
        return None
    previous = data.get("Previous")
    old = previous.get("Name") if isinstance(previous, Mapping) else None
    if isinstance(old, str) and old.strip() == name:
        return None
    return name


def _new_filter(data: Mapping[str, Any]) -> str | None:
    """Return the name of the filter a FILTERWHEEL-CHANGED moved to, if it can be read."""
    new = data.get("New")
    name = new.get("Name") if isinstance(new, Mapping) else None
    return (name.strip() or None) if isinstance(name, str) else None


def pair_history_images(
    history: HistoryColumns, images: Sequence[ImageRecord], tz: tzinfo
) -> list[ImageRecord | None]:
    """Match sparse history IMAGE-SAVE items to image records (both in capture order).

    Both lists live in NINA's memory since it started, so normally they have one record per
    IMAGE-SAVE and pair by order. The image history is read after the event history, so it
    may hold frames saved in between: those newest surplus records are left for the next
    backfill. With fewer records than saves (an image history cut short), each IMAGE-SAVE
    takes the last unused record dated before it was saved. Returns one entry per event.
    """
    saves = [index for index, name in enumerate(history.names) if name == IMAGE_SAVE]
    paired: list[ImageRecord | None] = [None] * len(history.names)
    if len(saves) <= len(images):
        for index, record in zip(saves, images, strict=False):
            paired[index] = record
        return paired
    cursor = 0
    for index in saves:
        text = history.times[index]
        if cursor >= len(images) or text is None:
            continue
        saved = parse_nina_time(text, tz) + _PAIRING_SLACK
        chosen = None
        probe = cursor
        while probe < len(images):
            taken = _record_time(images[probe], tz)
            if taken is None or taken > saved:
                break
            chosen = probe
            probe += 1
        if chosen is not None:
            paired[index] = images[chosen]
            cursor = chosen + 1
    return paired


def _record_time(record: ImageRecord, tz: tzinfo) -> datetime | None:
    if record.date_text is None:
        return None
    try:
        return parse_nina_time(record.date_text, tz)
    except FrameError:
        return None
