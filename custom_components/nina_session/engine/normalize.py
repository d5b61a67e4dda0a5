"""Normalizer: UTC times, clean data, and sparse IMAGE-SAVE events enriched from context."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, tzinfo
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
    """Copy of `value` that strict JSON can hold: NaN/inf become None."""
    kind = type(value)  # exact types first: the ABC checks below are slow on the hot path
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {str(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    return value


_NON_FINITE_TEXT = {"NaN", "Infinity", "-Infinity"}


def _comparable(value: Any) -> Any:
    """Return `value` without its missing readings, as its fingerprint hashes it.

    The socket writes missing readings as null or bare NaN, REST omits nulls and writes
    "NaN" as text: the same content must hash the same either way.
    """
    if isinstance(value, Mapping):
        pairs = ((str(k), _comparable(v)) for k, v in value.items())
        return {k: v for k, v in pairs if v is not None}
    if isinstance(value, list):
        return [_comparable(item) for item in value]
    if isinstance(value, str) and value in _NON_FINITE_TEXT:
        return None
    return value


def content_fingerprint(name: str, data: Mapping[str, Any]) -> str:
    """Name plus a short hash of the event's data: equal content, equal fingerprint."""
    comparable = _comparable(data)
    if not comparable:
        return name
    payload = json.dumps(comparable, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()
    return f"{name}#{digest}"


@dataclass(slots=True)
class _Context:
    """What earlier events told us, used to fill in sparse frames."""

    target: str | None = None
    filter: str | None = None
    camera: str | None = None
    telescope: str | None = None


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
        data: dict[str, Any] = clean_json(wire.data)
        self._learn(wire.name, data)
        if wire.name != IMAGE_SAVE:
            return NinaEvent(
                wire.name, time, data, source, content_fingerprint(wire.name, data), False
            )
        if image is None and "ImageStatistics" in wire.data:
            image = parse_image_record(wire.data["ImageStatistics"])
        frame = self._frame(image, source)
        if frame.taken_at is not None:
            fingerprint = f"{IMAGE_SAVE}@{frame.taken_at.isoformat()}"
            return NinaEvent(wire.name, time, data, source, fingerprint, True, frame)
        return NinaEvent(wire.name, time, data, source, IMAGE_SAVE, False, frame)

    def start_history(self) -> None:
        """Begin a new history read (oldest first): forget the previous one's last times."""
        self._history_last.clear()

    def _history_time(self, text: str, kind: str) -> datetime:
        """Parse a history time, choosing the right pass of a repeated local hour.

        An offset-less time in the hour that repeats when summer time ends is the second
        pass if the first would go back in time (history is oldest first).
        """
        moment = parse_nina_time(text, self.tz)
        last = self._history_last.get(kind)
        if last is not None and moment < last:
            moment = max(moment, parse_nina_time(text, self.tz, fold=1))
        self._history_last[kind] = moment
        return moment

    def _event_time(self, wire: WireEvent, source: Source) -> datetime:
        if wire.time_text is not None:
            if source == Source.HISTORY:
                return self._history_time(wire.time_text, "time")
            return parse_nina_time(wire.time_text, self.tz)
        if wire.received_at is None:
            raise FrameError("bad_time", f"{wire.name} has neither Time nor receive time")
        return wire.received_at

    def _learn(self, name: str, data: Mapping[str, Any]) -> None:
        if name in ("TS-TARGETSTART", "TS-NEWTARGETSTART"):
            target = data.get("TargetName")
            if isinstance(target, str) and target.strip():
                self._context.target = target.strip()
        elif name == "FILTERWHEEL-CHANGED":
            new = data.get("New")
            if isinstance(new, Mapping) and isinstance(new.get("Name"), str):
                self._context.filter = new["Name"].strip() or None

    def _frame(self, image: ImageRecord | None, source: Source) -> Frame:
        """Build a frame, filling what the record lacks from context and noting it."""
        record = image or ImageRecord(*([None] * 14))
        ctx = self._context
        inferred: list[str] = []

        def pick(field: str, own: str | None, known: str | None) -> str | None:
            if own is not None:
                return own
            if known is not None:
                inferred.append(field)
            return known

        image_type = record.image_type
        if image_type is None:
            image_type = "LIGHT"
            inferred.append("image_type")
        target = pick("target", record.target, ctx.target)
        filter_name = pick("filter", record.filter, ctx.filter)
        camera = pick("camera", record.camera, ctx.camera)
        telescope = pick("telescope", record.telescope, ctx.telescope)
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
        return Frame(
            image_type=image_type,
            exposure=record.exposure,
            filter=filter_name or NO_FILTER,
            target=target,
            camera=camera,
            telescope=telescope,
            hfr=record.hfr,
            stars=record.stars,
            guiding_rms=parse_rms_arcsec(record.rms_text),
            temperature=record.temperature,
            taken_at=taken_at,
            filename=record.filename,
            inferred=tuple(inferred),
        )


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
