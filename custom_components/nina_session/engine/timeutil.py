"""Time handling: everything inside the engine is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from .errors import FrameError

_SANE_YEARS = (1970, 9000)


def parse_nina_time(text: str, default_tz: tzinfo, *, fold: int = 0) -> datetime:
    """Parse NINA's .NET round-trip time (7 fractional digits, offset optional, or ``Z``).

    A time without an offset is NINA's local time: it is read in `default_tz` (the configured
    NINA timezone). The original system forced UTC-5 here and dropped ``Z`` times.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except (ValueError, AttributeError) as err:
        raise FrameError("bad_time", repr(text)[:60]) from err
    zone = parsed.tzinfo
    if zone is None:
        # fold=1 picks the second of a local time that happens twice (summer time ending).
        zone = default_tz
        parsed = parsed.replace(tzinfo=zone, fold=fold)
    if not _SANE_YEARS[0] <= parsed.year <= _SANE_YEARS[1]:
        # .NET writes an unset DateTime as 0001-01-01 (and MaxValue as 9999-12-31); they
        # overflow in zone arithmetic and mean "no time".
        raise FrameError("bad_time", repr(text)[:60])
    if zone is UTC and not parsed.fold:
        return parsed  # already what the conversion gives (Target Scheduler's times, `Z`)
    return parsed.astimezone(UTC)


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
