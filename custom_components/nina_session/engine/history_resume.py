"""Where the last history read stopped, so that a re-read costs what is new.

NINA's `/event-history` and `/image-history` only grow while its process runs, and the engine
reads them on every reconnect and every 15 minutes. Items taken in by an earlier read of the
same process (same history epoch) are stored already: a re-read parses only the items after
them, once it has checked cheaply that the list still starts the same (the last item taken is
still where it was). A few of the items taken just before that point are read again: a live
copy that arrived after the last read may still meet its history twin among them (a late live
copy, up to `late_tolerance`; see `ClockAlignment.pair_history`).

The image records before that point are not even decoded when the answer starts with the same
bytes as the last one, nor the events before the overlap (`history_prefix`; `known`,
`decoded_from`).

Anything unusual reads the whole history again: a first read, another epoch, a shorter list,
an item that moved, rejected items or image records (indexes would not line up), image records
paired by time rather than by order, or a read that did not store everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .errors import FrameError
from .history_prefix import Decoded, KnownHistory
from .timeutil import parse_nina_time
from .wire import Foreign, HistoryEvents, HistoryImages, WireEvent

_IMAGE_SAVE = "IMAGE-SAVE"


@dataclass(frozen=True, slots=True)
class HistoryMark:
    """How far a read took NINA's history in: raw item counts, and the last item's identity."""

    epoch: int
    events: int
    images: int
    last: tuple[Any, Any]


def raw_list(payload: Any) -> list[Any] | None:
    """Return a history payload's items (raw, or parsed as read), or None to read it whole.

    None for anything but a plain v2 list: another API's payload, or items the reader
    rejected (the indexes would not line up with NINA's). Items not decoded (`Decoded.skipped`)
    are None.
    """
    if isinstance(payload, HistoryEvents):
        return _with_skipped(payload.items, payload.source) if not payload.rejected else None
    if isinstance(payload, HistoryImages):
        return _with_skipped(payload.items, payload.source)
    if isinstance(payload, Foreign):
        return None
    if isinstance(payload, Mapping) and isinstance(payload.get("Response"), list):
        return list(payload["Response"]) if payload.get("Success") is not False else None
    return payload if isinstance(payload, list) else None


def _with_skipped(items: list[Any], source: Decoded) -> list[Any]:
    return [None] * source.skipped + items if source.skipped else items


def tail(payload: Any, items: list[Any], start: int) -> Any:
    """Return the part of a history payload from item `start` on, in the payload's form."""
    if isinstance(payload, HistoryEvents | HistoryImages):
        return payload.tail(start)
    return items[start:]


def decoded_from(payload: Any, start: int) -> Any:
    """Return a history payload whose items from `start` on are decoded.

    One whose answer began as the last one read skipped decoding its first items
    (`Decoded.skipped`); a read that needs items before those decodes it again, whole.
    """
    if isinstance(payload, HistoryEvents | HistoryImages) and payload.source.skipped > start:
        if payload.source.whole is None:
            raise ValueError("a history without its first items")
        return payload.source.whole()
    return payload


def _identity(item: Any) -> tuple[Any, Any]:
    if isinstance(item, WireEvent):
        return item.name, item.time_text
    return (item.get("Event"), item.get("Time")) if isinstance(item, Mapping) else (None, None)


def _time(item: Any, tz: tzinfo) -> datetime | None:
    identity = _identity(item)
    if not isinstance(identity[0], str) or not isinstance(identity[1], str):
        return None
    try:
        return parse_nina_time(identity[1], UTC if identity[0].startswith("TS-") else tz)
    except FrameError:
        return None


def image_count(payload: Any, items: Sequence[Any] | None) -> int | None:
    """Return how many records an image history held, those not decoded included."""
    if isinstance(payload, HistoryImages):
        return len(payload)
    return None if items is None else len(items)


class HistoryResume:
    """Remembers the last read's mark; tells a re-read where to start."""

    def __init__(self, tz: tzinfo, overlap: timedelta) -> None:
        """Re-read the items taken within `overlap` before the mark (late live copies)."""
        self.tz = tz
        self.overlap = overlap
        self.mark: HistoryMark | None = None
        #: The leading bytes of the last answers that hold the items the next read will skip if
        #: the history is the same up to the mark (see `history_prefix`).
        self.known = KnownHistory()

    def start(
        self, epoch: int, events: Sequence[Any] | None, images: int | None
    ) -> tuple[int, int]:
        """Return how many raw (events, image records) to skip: (0, 0) reads everything.

        `images`: how many records the image history holds (None: it cannot be resumed).
        """
        mark = self.mark
        if mark is None or events is None or images is None or mark.epoch != epoch:
            return 0, 0
        if mark.events == 0 or len(events) < mark.events or images < mark.images:
            return 0, 0
        if _identity(events[mark.events - 1]) != mark.last:
            return 0, 0
        overlap = self._overlap(events, mark.events)
        if overlap is None:
            return 0, 0
        start, images_back = overlap
        return start, mark.images - images_back

    def _overlap(self, events: Sequence[Any], count: int) -> tuple[int, int] | None:
        """Return (start, IMAGE-SAVE items from there) of a read resuming after `count` events.

        None when the times do not say.
        """
        end = _time(events[count - 1], self.tz)
        if end is None:
            return None
        start, images_back = count, 0
        while start > 0:
            moment = _time(events[start - 1], self.tz)
            if moment is None or moment < end - self.overlap:
                break
            start -= 1
            images_back += _identity(events[start])[0] == _IMAGE_SAVE
        return start, images_back

    def took(
        self,
        epoch: int,
        events: Sequence[Any] | None,
        images_used: int | None,
        read: tuple[Any, Any] = (None, None),
    ) -> None:
        """Note what a read took in (`images_used` None: it cannot be resumed from).

        `read`: the event and image history as read, whose leading bytes the next read may
        skip.
        """
        self.known = KnownHistory()
        if events is None or not events or images_used is None:
            self.mark = None
            return
        self.mark = HistoryMark(epoch, len(events), images_used, _identity(events[-1]))
        overlap = self._overlap(events, len(events))
        if overlap is None:
            return
        event_history, image_history = read
        self.known = KnownHistory(
            event_history.source.known(overlap[0], len(events))
            if isinstance(event_history, HistoryEvents)
            else None,
            image_history.source.known(images_used - overlap[1], len(image_history))
            if isinstance(image_history, HistoryImages)
            else None,
        )

    def forget(self) -> None:
        """Make the next read a whole one."""
        self.mark = None
        self.known = KnownHistory()
