"""Normalizer: UTC times, clean data, and sparse IMAGE-SAVE events enriched from context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, tzinfo
import hashlib
import json
import math
import re
from typing import Any

from .errors import FrameError
from .models import NO_FILTER, Frame, NinaEvent, Source
from .timeutil import parse_nina_time
from .wire import ImageRecord, WireEvent, parse_image_record

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
    match = _RMS_ARCSEC.search(text) or _RMS_ANY.search(text)
    if match is None:
        return None
    try:
        return float(match.group(1).replace(",", "."))
    except ValueError:
        return None


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
    """What earlier events told us, used to fill in sparse frames."""

    target: str | None = None
    filter: str | None = None
    camera: str | None = None
    telescope: str | None = None


#: The events whose data the context learns from (`Normalizer._learn`).
_LEARNED_FROM = frozenset({"TS-TARGETSTART", "TS-NEWTARGETSTART", "FILTERWHEEL-CHANGED"})


class Normalizer:
    """Stateful normalizer; its context follows the event stream in order."""

    def __init__(self, tz: tzinfo) -> None:
        """Initialize with NINA's timezone (for offset-less times) and no context."""
        self.tz = tz
        self._context = _Context()
        self._history_last: dict[str, datetime] = {}

    def snapshot(self) -> dict[str, Any]:
        """Return the context as JSON-safe data to persist."""
        return asdict(self._context)

    def restore(self, snap: Mapping[str, Any]) -> None:
        """Restore the context from a `snapshot()`."""
        self._context = _Context(**snap)

    def normalize(
        self, wire: WireEvent, source: Source, image: ImageRecord | None = None
    ) -> NinaEvent:
        """Normalize one event. `image` enriches a sparse history IMAGE-SAVE."""
        time = self._event_time(wire, source)
        # Known strict and placeholder-free (`WireEvent.plain`): the parser's own copy is kept.
        data: dict[str, Any] = (
            wire.data if wire.plain and type(wire.data) is dict else clean_json(wire.data)
        )
        text = wire.text if data is wire.data else None
        if wire.name in _LEARNED_FROM:
            self._learn(wire.name, data)
        if wire.name != IMAGE_SAVE:
            fingerprint = content_fingerprint(wire.name, data)
            return NinaEvent(wire.name, time, data, source, fingerprint, False, text=text)
        stats = data.get("ImageStatistics")
        own = image is None and "ImageStatistics" in data
        if own:
            image = parse_image_record(stats)
        frame = self._frame(image, source)
        in_data = own and _gives_back(stats, frame)
        if frame.taken_at is not None:
            fingerprint = f"{IMAGE_SAVE}@{frame.taken_at.isoformat()}"
            return NinaEvent(wire.name, time, data, source, fingerprint, True, frame, text, in_data)
        return NinaEvent(wire.name, time, data, source, IMAGE_SAVE, False, frame, text, in_data)

    def start_history(self) -> None:
        """Begin a new history read (oldest first): forget the previous one's last times."""
        self._history_last.clear()

    def _history_time(self, text: str, kind: str, tz: tzinfo | None = None) -> datetime:
        """Parse a history time, choosing the right pass of a repeated local hour.

        An offset-less time in the hour that repeats when summer time ends is the second
        pass if the first would go back in time (history is oldest first).
        """
        zone = tz or self.tz
        moment = parse_nina_time(text, zone)
        last = self._history_last.get(kind)
        if last is not None and moment < last:
            moment = max(moment, parse_nina_time(text, zone, fold=1))
        self._history_last[kind] = moment
        return moment

    def _event_time(self, wire: WireEvent, source: Source) -> datetime:
        if wire.time_text is not None:
            zone = UTC if wire.name.startswith(_UTC_PREFIX) else self.tz
            if source == Source.HISTORY:
                return self._history_time(wire.time_text, "time", zone)
            return parse_nina_time(wire.time_text, zone)
        if wire.received_at is None:
            raise FrameError("bad_time", f"{wire.name} has neither Time nor receive time")
        return wire.received_at

    def _learn(self, name: str, data: Mapping[str, Any]) -> None:
        if name in ("TS-TARGETSTART", "TS-NEWTARGETSTART"):
            target = data.get("TargetName")
            if isinstance(target, str) and target.strip():
                self._context.target = target.strip()
        elif name == "FILTERWHEEL-CHANGED":
            self._context.filter = filter_change(data) or self._context.filter

    def _frame(self, image: ImageRecord | None, source: Source) -> Frame:
        """Build a frame, filling what the record lacks from context and noting it."""
        record = image or ImageRecord(*([None] * 14))
        ctx = self._context
        inferred: list[str] = []
        image_type = record.image_type
        if image_type is None:
            # A record without a type is an older plugin's (mostly lights); no record at all
            # says nothing. The tracker reads either as FLAT while the flat panel is lit.
            image_type = "LIGHT" if image is not None else UNKNOWN_TYPE
            inferred.append("image_type")
        target = _pick(inferred, "target", record.target, ctx.target)
        filter_name = _pick(inferred, "filter", record.filter, ctx.filter)
        camera = _pick(inferred, "camera", record.camera, ctx.camera)
        telescope = _pick(inferred, "telescope", record.telescope, ctx.telescope)
        # Frames tell us the current context too (the first filter gets no FILTERWHEEL-CHANGED).
        ctx.target = target if image_type == "LIGHT" and target else ctx.target
        ctx.filter = filter_name or ctx.filter
        ctx.camera = camera or ctx.camera
        ctx.telescope = telescope or ctx.telescope
        taken_at = None
        if record.date_text is not None:
            try:
                if source == Source.HISTORY:
                    taken_at = self._history_time(record.date_text, "date")
                else:
                    taken_at = parse_nina_time(record.date_text, self.tz)
            except FrameError:
                inferred.append("taken_at_unreadable")
        names = (target, filter_name, camera, telescope)
        return _frame_of(record, image_type, names, taken_at, tuple(inferred))


def _pick(inferred: list[str], field: str, own: str | None, known: str | None) -> str | None:
    """Return the record's own name, else the one context knows (noted in `inferred`)."""
    if own is not None:
        return own
    if known is not None:
        inferred.append(field)
    return known


def _frame_of(
    record: ImageRecord,
    image_type: str,
    names: tuple[str | None, str | None, str | None, str | None],
    taken_at: datetime | None,
    inferred: tuple[str, ...],
) -> Frame:
    """Build a frame from a record and its final names (target, filter, camera, telescope)."""
    target, filter_name, camera, telescope = names
    return Frame(
        image_type=image_type,
        exposure=record.exposure,
        filter=filter_name or NO_FILTER,
        target=target,
        camera=camera,
        telescope=telescope,
        # HFR 0 and Stars -1 are what star detection reports when it found nothing
        # (calibration frames, clouds): no measurement, not a value to average.
        hfr=record.hfr if record.hfr is not None and record.hfr > 0 else None,
        stars=record.stars if record.stars is not None and record.stars >= 0 else None,
        guiding_rms=parse_rms_arcsec(record.rms_text),
        temperature=record.temperature,
        taken_at=taken_at,
        filename=record.filename,
        inferred=inferred,
    )


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
    new, previous = data.get("New"), data.get("Previous")
    name = new.get("Name") if isinstance(new, Mapping) else None
    if not isinstance(name, str) or not name.strip():
        return None
    old = previous.get("Name") if isinstance(previous, Mapping) else None
    if isinstance(old, str) and old.strip() == name.strip():
        return None
    return name.strip()


def pair_history_images(
    events: Sequence[WireEvent], images: Sequence[ImageRecord], tz: tzinfo
) -> list[ImageRecord | None]:
    """Match sparse history IMAGE-SAVE items to image records (both in capture order).

    Both lists live in NINA's memory since it started, so normally they have one record per
    IMAGE-SAVE and pair by order. The image history is read after the event history, so it
    may hold frames saved in between: those newest surplus records are left for the next
    backfill. With fewer records than saves (an image history cut short), each IMAGE-SAVE
    takes the last unused record dated before it was saved. Returns one entry per event.
    """
    saves = [index for index, event in enumerate(events) if event.name == IMAGE_SAVE]
    paired: list[ImageRecord | None] = [None] * len(events)
    if len(saves) <= len(images):
        for index, record in zip(saves, images, strict=False):
            paired[index] = record
        return paired
    cursor = 0
    for index in saves:
        text = events[index].time_text
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
