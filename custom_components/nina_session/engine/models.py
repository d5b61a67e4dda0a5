"""Normalized events: what every stage after the normalizer works with."""

from __future__ import annotations

from dataclasses import InitVar, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """Where an event came from; all sources go through the same pipeline."""

    LIVE = "live"
    HISTORY = "history"
    REPLAY = "replay"


#: Filter key for frames taken without a filter wheel.
NO_FILTER = "none"


#: Not frozen, though read-only by convention (see `NinaEvent`): one is built per frame.
@dataclass(slots=True)
class Frame:
    """A saved image with its context; `inferred` names fields filled from earlier events."""

    image_type: str
    exposure: float | None
    filter: str
    target: str | None
    camera: str | None
    telescope: str | None
    hfr: float | None
    stars: int | None
    guiding_rms: float | None
    temperature: float | None
    taken_at: datetime | None
    filename: str | None
    inferred: tuple[str, ...] = ()


#: Not frozen, though read-only by convention (a changed event is a `dataclasses.replace`
#: copy, which recomputes `ts` and `key`): one is built per event, and a frozen dataclass's
#: `__init__` (a call per field) cost four times a plain one's on the hot path. Its data dict
#: made it unhashable anyway.
@dataclass(slots=True)
class NinaEvent:
    """One normalized NINA event.

    `fingerprint` identifies the event's content. When it is `exact` (frames with their own
    capture time) it alone is the identity; otherwise two events with the same fingerprint
    within the dedup window are the same event seen twice.
    """

    name: str
    time: datetime
    data: dict[str, Any]
    source: Source
    fingerprint: str
    exact: bool
    frame: Frame | None = None
    #: `data` as the compact JSON text it arrived in, for the store to keep as it is (None:
    #: encode `data`). Only for data nothing changed since it was received.
    text: str | None = field(default=None, compare=False)
    #: The frame is exactly what the data's own statistics give (`normalize.own_frame`), so
    #: its row need not store it. False says only "not known": the store then checks.
    frame_in_data: bool = field(default=False, compare=False)
    #: `time` as a POSIX timestamp, and the stable storage key that makes inserts idempotent
    #: (`event_key`): both read several times per event on the hot path, so made once.
    ts: float = field(init=False, repr=False, compare=False)
    key: str = field(init=False, repr=False, compare=False)
    #: A frame's capture time in microseconds, from `frame_identity` with its fingerprint:
    #: the key is made from it instead of reading the fingerprint's time back. Not stored, so
    #: a `dataclasses.replace` copy computes its key from its fingerprint again.
    captured_us: InitVar[int | None] = None

    def __post_init__(self, captured_us: int | None) -> None:
        """Compute `ts` and `key` from the time and the fingerprint."""
        self.ts = ts = self.time.timestamp()
        self.key = _key(self.fingerprint, self.exact, ts, captured_us)

    @classmethod
    def build(
        cls,
        name: str,
        time: datetime,
        micros: int | None,
        data: dict[str, Any],
        source: Source,
        fingerprint: str,
        exact: bool,
        frame: Frame | None = None,
        text: str | None = None,
        frame_in_data: bool = False,
        captured_us: int | None = None,
    ) -> NinaEvent:
        """Build the event the constructor would, with its time in POSIX microseconds if known.

        For the normalizer's hot path, where `timeutil.nina_instant` reads both at once: `ts`
        is then `micros / 10**6`, the very float `time.timestamp()` gives (it divides the
        same integer), and no generated `__init__` and `__post_init__` run (together five
        times the cost of setting the fields).
        """
        event = _new_object(cls)
        event.name = name
        event.time = time
        event.data = data
        event.source = source
        event.fingerprint = fingerprint
        event.exact = exact
        event.frame = frame
        event.text = text
        event.frame_in_data = frame_in_data
        event.ts = ts = time.timestamp() if micros is None else micros / 1_000_000
        event.key = _key(fingerprint, exact, ts, captured_us)
        return event

    def moved_to(self, time: datetime) -> NinaEvent:
        """Return a copy of the event at another time (NINA's clock corrected onto ours).

        What `dataclasses.replace` gives, at a tenth of its cost: it would make a frame's key
        again from its fingerprint (parse its time back and format it twice), though a frame's
        key is its capture time, which does not move.
        """
        captured = int(self.key) if self.exact and self.key != self.fingerprint else None
        return NinaEvent(
            self.name,
            time,
            self.data,
            self.source,
            self.fingerprint,
            self.exact,
            self.frame,
            self.text,
            self.frame_in_data,
            captured,
        )


_new_object = object.__new__


def _key(fingerprint: str, exact: bool, ts: float, captured_us: int | None) -> str:
    """Return `event_key`, from a frame's capture microseconds when `frame_identity` gave them."""
    if not exact:
        return f"{fingerprint}@{round(ts * 1000)}"
    if captured_us is not None:
        return str(captured_us)
    return _frame_key(fingerprint)


#: A frame is identified exactly by its capture time: its fingerprint is this and the time,
#: UTC, in ISO form (see `normalize`).
FRAME_FINGERPRINT = "IMAGE-SAVE@"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def frame_identity(
    taken_at: datetime, micros: int | None = None, iso: str | None = None
) -> tuple[str, int | None]:
    """Return a frame's fingerprint and, for a UTC capture time, its key in microseconds.

    What `event_key` would make of the fingerprint, without formatting the time, parsing it
    back and formatting it again to check (three of the costliest steps per frame). A time in
    another zone keeps its own offset in the fingerprint, which is then its own key (None).
    `micros`: the capture time in POSIX microseconds, and `iso`: its ISO text without the
    offset, when known (`timeutil.nina_instant` reads both with the time).
    """
    if taken_at.tzinfo is not UTC:
        return FRAME_FINGERPRINT + taken_at.isoformat(), None
    if micros is None:
        since = taken_at - _EPOCH
        micros = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds
    if iso is None:  # a naive time formats faster than an aware one; UTC's offset is written so
        iso = taken_at.replace(tzinfo=None).isoformat()
    return FRAME_FINGERPRINT + iso + "+00:00", micros


def event_key(fingerprint: str, exact: bool, ts: float) -> str:
    """Storage key: fingerprint@milliseconds, or for an exact one the fingerprint in short.

    A frame's key is its capture time in integer microseconds since the epoch: the same
    identity in 16 characters instead of 43, stored twice per frame (row and unique index).
    An exact fingerprint that does not read back from such a number is its own key.
    """
    return _key(fingerprint, exact, ts, None)


def _frame_key(fingerprint: str) -> str:
    if not fingerprint.startswith(FRAME_FINGERPRINT):
        return fingerprint
    try:
        moment = datetime.fromisoformat(fingerprint[len(FRAME_FINGERPRINT) :])
        micros = (moment - _EPOCH) // _MICROSECOND
    except (ValueError, TypeError):  # not a time; a time without an offset
        return fingerprint
    return str(micros) if _frame_fingerprint(micros) == fingerprint else fingerprint


def _frame_fingerprint(micros: int) -> str:
    return FRAME_FINGERPRINT + (_EPOCH + micros * _MICROSECOND).isoformat()


def split_key(key: str) -> tuple[str, bool]:
    """Return (fingerprint, exact) of a storage key: `event_key` read backwards.

    A plain event's key ends in `@` and its integer milliseconds; a frame's is an integer
    alone (microseconds: see `event_key`); any other key is an exact fingerprint itself (it
    ends in an ISO time, never an integer).
    """
    head, at, tail = key.rpartition("@")
    if at and tail.lstrip("-").isdigit():
        return head, False
    if not at and key.lstrip("-").isdigit():
        try:
            return _frame_fingerprint(int(key)), True
        except OverflowError:  # past year 9999: no key this code wrote
            return key, True
    return key, True
