"""Time handling: everything inside the engine is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
import re
from typing import Literal, overload

from .errors import FrameError

#: The years a NINA time may have (see `_sane`).
_FIRST_YEAR, _LAST_YEAR = 1970, 9000


def parse_nina_time(text: str, default_tz: tzinfo, *, fold: int = 0) -> datetime:
    """Parse NINA's .NET round-trip time (7 fractional digits, offset optional, or ``Z``).

    A time without an offset is NINA's local time: it is read in `default_tz` (the configured
    NINA timezone). The original system forced UTC-5 here and dropped ``Z`` times.
    """
    # Nearly every time NINA writes is `2025-01-01T19:36:01.7910024+01:00`, with one of the
    # few offsets of its zone: the local part less that offset is the UTC time. Converting a
    # time carrying its own zone object (`astimezone`) cost more than parsing it.
    offset = _OFFSETS.get(text[-6:]) if type(text) is str and len(text) >= 25 else None
    if offset is not None and text[10] == "T":
        try:
            local = datetime.fromisoformat(text[:-6])
        except ValueError:
            local = None  # the general reading below says why
        if local is not None and local.tzinfo is None and _FIRST_YEAR <= local.year <= _LAST_YEAR:
            return (local - offset).replace(tzinfo=UTC)
    return _parse_any(text, default_tz, fold)


@overload
def nina_instant(
    text: str, default_tz: tzinfo, *, fold: int = 0, iso: Literal[True]
) -> tuple[datetime, int, str]: ...


@overload
def nina_instant(text: str, default_tz: tzinfo, *, fold: int = 0) -> tuple[datetime, int]: ...


def nina_instant(
    text: str, default_tz: tzinfo, *, fold: int = 0, iso: bool = False
) -> tuple[datetime, int] | tuple[datetime, int, str]:
    """Return `parse_nina_time`'s UTC time and the same instant in integer POSIX microseconds.

    `micros / 10**6` is exactly the time's `timestamp()` (which divides that very integer),
    and a frame's key is `micros`: made here in one pass, for the history's hot path.
    `iso=True` adds the time's ISO text in UTC without its offset (what
    `moment.replace(tzinfo=None).isoformat()` gives), which a frame's fingerprint holds.
    """
    # A night's thousands of times share a few dozen hours: a time written with a whole-hour
    # offset is its hour's UTC text (learned once, `_learn_hour`) and its own minutes on.
    # One table by the hour as written, its offset checked after: a slice and a table less
    # than by offset, then hour (a time read in 4-10 % less, measured alternately).
    hour = _HOURS.get(text[:13]) if type(text) is str else None
    if hour is not None and text.endswith(hour[0]):
        head, base = hour[1], hour[2]
        try:
            moment = datetime.fromisoformat(head + text[13:-6] + "+00:00")
        except ValueError:
            pass  # the general reading below says why
        else:
            micros = (
                base + moment.minute * 60_000_000 + moment.second * 1_000_000 + moment.microsecond
            )
            if not iso:
                return moment, micros
            # Cut from the text when it has NINA's seven fraction digits (formatting the time
            # cost twice the cut): the first six are the microseconds (`fromisoformat` cuts the
            # seventh off), which `isoformat` writes unless they are all zero.
            if len(text) == 33 and text[19] == "." and moment.microsecond:
                return moment, micros, head + text[13:26]
            return moment, micros, moment.replace(tzinfo=None).isoformat()
    moment = parse_nina_time(text, default_tz, fold=fold)
    micros = (moment - _EPOCH) // _MICROSECOND
    if _WHOLE_HOUR_OFFSET.fullmatch(text, len(text) - 6):
        _learn_hour(text, moment, micros)
    if iso:
        return moment, micros, moment.replace(tzinfo=None).isoformat()
    return moment, micros


#: Date and hour as written → (its offset as written, that hour's UTC text to the hour, its
#: first microsecond since the epoch), for times written with a whole-hour offset. One offset
#: per hour: the other of a repeated hour (summer time ending) is read the general way and
#: taken instead. Bounded (input decides what goes in): a NINA process's hours fill it in
#: months; then it starts again.
_HOURS: dict[str, tuple[str, str, int]] = {}
_MAX_HOURS = 4096
_WHOLE_HOUR_OFFSET = re.compile(r"[+-]\d\d:00")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _learn_hour(text: str, moment: datetime, micros: int) -> None:
    """Learn the hour of `text` (read as `moment`) if its minutes on read alone the same."""
    written = text[:13]
    try:
        # Only a plainly written hour (not `T24`, not a week date): then the minutes on
        # are read alike whatever the date and hour before them.
        if text[10] != "T" or datetime.fromisoformat(written).isoformat()[:13] != written:
            return
    except ValueError:
        return
    rest = moment.minute * 60_000_000 + moment.second * 1_000_000 + moment.microsecond
    start = moment.replace(minute=0, second=0, microsecond=0)
    head = start.replace(tzinfo=None).isoformat()[:13]
    try:
        again = datetime.fromisoformat(head + text[13:-6] + "+00:00")
    except ValueError:
        return
    if again != moment or again.tzinfo is not moment.tzinfo:
        return
    if len(_HOURS) >= _MAX_HOURS:
        _HOURS.clear()
    _HOURS[written] = (text[-6:], head, micros - rest)


#: UTC offset → its `timedelta`, for the offsets written `±HH:MM` seen so far (a zone has a
#: few); bounded, as input decides what goes in.
_OFFSETS: dict[str, timedelta] = {}
_MAX_OFFSETS = 64
_OFFSET_SHAPE = re.compile(r"[+-]\d\d:\d\d")


def _parse_any(text: str, default_tz: tzinfo, fold: int) -> datetime:
    """Parse any time `datetime.fromisoformat` reads; learn its offset for the fast path."""
    try:
        text = text.strip()
        parsed = datetime.fromisoformat(text)
    except (ValueError, AttributeError) as err:
        raise FrameError("bad_time", repr(text)[:60]) from err
    zone = parsed.tzinfo
    if zone is None:
        # fold=1 picks the second of a local time that happens twice (summer time ending).
        zone = default_tz
        parsed = parsed.replace(tzinfo=zone, fold=fold)
    elif len(_OFFSETS) < _MAX_OFFSETS and _OFFSET_SHAPE.fullmatch(text, len(text) - 6):
        offset = parsed.utcoffset()
        if offset is not None:
            _OFFSETS[text[-6:]] = offset
    if not _sane(parsed):
        raise FrameError("bad_time", repr(text)[:60])
    if zone is UTC and not parsed.fold:
        return parsed  # already what the conversion gives (Target Scheduler's times, `Z`)
    return parsed.astimezone(UTC)


def _sane(moment: datetime) -> bool:
    # .NET writes an unset DateTime as 0001-01-01 (and MaxValue as 9999-12-31); they
    # overflow in zone arithmetic and mean "no time".
    return _FIRST_YEAR <= moment.year <= _LAST_YEAR


def iso_z(moment: datetime | None) -> str | None:
    """ISO 8601 UTC with ``Z`` and whole seconds: the shape of every time we publish."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def iso_z_ms(moment: datetime) -> str:
    """Like `iso_z` with milliseconds, for event times where order within a second matters."""
    text = moment.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def from_timestamp(seconds: float) -> datetime:
    """Return the UTC time of a POSIX timestamp."""
    return datetime.fromtimestamp(seconds, UTC)


def night_of(moment: datetime, tz: tzinfo) -> str:
    """Return the observing night of a moment: the local date of its evening (noon to noon)."""
    return (moment.astimezone(tz) - timedelta(hours=12)).date().isoformat()


def night_end(night: str, tz: tzinfo) -> datetime:
    """When the observing night `night` (see `night_of`) ends: noon of the next local day."""
    next_day = date.fromisoformat(night) + timedelta(days=1)
    return datetime.combine(next_day, time(12), tzinfo=tz).astimezone(UTC)
