"""Astronomical dawn from NOAA's solar equations, against published and independent values."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from astral import Observer
from astral.sun import dawn as astral_dawn
import pytest

from custom_components.nina_session.engine.twilight import dawn, night_end_estimate, target_end_of

MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # timeanddate.com, London (51.5085 N, 0.1257 W), civil dawn, local = UTC in December
        (date(2015, 12, 1), datetime(2015, 12, 1, 7, 4, tzinfo=UTC)),
        (date(2015, 12, 12), datetime(2015, 12, 12, 7, 16, tzinfo=UTC)),
    ],
)
def test_civil_dawn_in_london_as_published(day: date, expected: datetime) -> None:
    """Test civil dawn in London against timeanddate.com's published minutes."""
    found = dawn(day, 51.50853, -0.12574, depression=6)
    assert found is not None
    assert abs(found - expected) <= MINUTE


@pytest.mark.parametrize(
    ("latitude", "longitude", "day"),
    [
        (52.52, 13.405, date(2026, 11, 25)),  # Berlin, a winter observing night
        (-33.86, 151.2, date(2026, 6, 21)),  # Sydney: east of Greenwich, dawn the UTC day before
        (40.0, -105.25, date(2026, 3, 20)),  # Boulder (NOAA's home) at the equinox
        (19.82, -155.47, date(2026, 1, 10)),  # Mauna Kea
        (-24.63, -70.4, date(2026, 12, 1)),  # Paranal
    ],
)
def test_astronomical_dawn_agrees_with_astral(latitude: float, longitude: float, day: date) -> None:
    """Test astronomical dawn against astral (an independent implementation) within a minute."""
    found = dawn(day, latitude, longitude)
    expected = astral_dawn(Observer(latitude, longitude), day, depression=18)
    assert found is not None
    assert abs(found - expected) <= MINUTE


def test_no_astronomical_night_in_a_northern_summer() -> None:
    """Test that a place whose sun never gets 18 degrees down has no astronomical dawn."""
    assert dawn(date(2026, 6, 21), 60.0, 10.0) is None
    assert dawn(date(2026, 6, 21), 60.0, 10.0, depression=6) is not None


def test_the_night_end_estimate() -> None:
    """Test that the night ends at dawn of the next morning; without a dawn, at the target's end."""
    end = target_end_of({"TargetEndTime": "2026-11-25T03:12:00.1234567"})
    assert end == datetime(2026, 11, 25, 3, 12, 0, 123456, tzinfo=UTC)  # naive TS times are UTC
    estimate = night_end_estimate("2026-11-24", 52.52, 13.405, target_end=end)
    assert estimate["source"] == "astronomical_dawn"
    assert estimate["estimate"] == dawn(date(2026, 11, 25), 52.52, 13.405)
    assert estimate["target_end"] == end
    summer = night_end_estimate("2026-06-20", 60.0, 10.0, target_end=end)
    assert (summer["estimate"], summer["source"]) == (end, "target_end")
    assert night_end_estimate("2026-06-20", None, None)["source"] is None
    assert target_end_of({"TargetEndTime": "0001-01-01T00:00:00"}) is None
    assert target_end_of({"TargetEndTime": []}) is None
