"""A history read as the pipeline takes it in: what it skips, what it parses, what it took.

The pipeline is handed the plugin's two answers (`/event-history`, `/image-history`), decoded
or still text. A re-read of the same NINA process starts after what the last one took in
(`history_resume`); the rest is parsed into columns (`wire.read_event_history`) and image
records; afterwards the read notes how far it got, for the next one (`ParsedHistory.took`).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import countOf
from typing import Any

from .history_resume import HistoryResume, decoded_from, image_count, raw_list, tail
from .normalize import IMAGE_SAVE
from .wire import HistoryColumns, ImageRecord, parse_image_history, read_event_history


@dataclass(slots=True)
class ParsedHistory:
    """The items of a history read that were parsed, and what the read skipped."""

    events: HistoryColumns
    images: list[ImageRecord]
    #: Image records refused by the wire model (the events refused: `events.rejected`).
    bad_images: int
    #: Raw items left out as already taken in by the last read (see `history_resume`).
    skipped_events: int
    skipped_images: int
    #: The raw event items of the answer, skipped ones included (None: not a list).
    raw_events: list[Any] | None
    #: The answers as read, whose leading bytes the next read may skip (`KnownHistory`).
    read: tuple[Any, Any]

    def took(self, resume: HistoryResume, epoch: int, stored_all: bool) -> None:
        """Note in `resume` how far this read took the history in.

        A read the next may resume from: nothing refused, every IMAGE-SAVE met its record
        (else the indexes would not line up) and everything stored (`stored_all`).
        """
        saves = countOf(self.events.names, IMAGE_SAVE)
        in_order = not (self.events.rejected or self.bad_images) and saves <= len(self.images)
        used = self.skipped_images + saves if in_order and stored_all else None
        resume.took(epoch, self.raw_events, used, self.read)


def parse_history(
    resume: HistoryResume, epoch: int, event_history: Any, image_history: Any, may_skip: bool
) -> ParsedHistory:
    """Parse the answers of a history read; skip what the last read took in, if `may_skip`.

    `image_history` None: the plugin has no image history (older versions).
    """
    skip_events = skip_images = 0
    if may_skip:
        raw_events = raw_list(event_history)
        raw_images = raw_list(image_history) if image_history is not None else None
        count = image_count(image_history, raw_images)
        skip_events, skip_images = resume.start(epoch, raw_events, count)
    event_history = read_events = decoded_from(event_history, skip_events)
    image_history = read_images = decoded_from(image_history, skip_images if skip_events else 0)
    raw_events = raw_list(event_history)
    raw_images = raw_list(image_history) if image_history is not None else None
    if skip_events and raw_events is not None and raw_images is not None:
        event_history = tail(event_history, raw_events, skip_events)
        image_history = tail(image_history, raw_images, skip_images)
    images: list[ImageRecord] = []
    bad_images = 0
    history = read_event_history(event_history)
    if image_history is not None:
        images, bad_images = parse_image_history(image_history)
    return ParsedHistory(
        history,
        images,
        bad_images,
        skip_events,
        skip_images,
        raw_events,
        (read_events, read_images),
    )
