"""When the night ends: astronomical dawn (NOAA's solar equations), and the night's end estimate.

Pure Python (the engine takes no astronomy library): the NOAA Solar Calculator's equations
(Meeus), accurate to about a minute at moderate latitudes, iterated once at the event itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
import math
from typing import Any

from .errors import FrameError
from .timeutil import parse_nina_time

#: The sun this far below the horizon: astronomical dawn (18), nautical (12), civil (6).
ASTRONOMICAL = 18.0


def _julian_century(moment: datetime) -> float:
    julian_day = moment.timestamp() / 86400.0 + 2440587.5
    return (julian_day - 2451545.0) / 36525.0


def _sun(moment: datetime) -> tuple[float, float]:
    """Return the sun's declination (degrees) and the equation of time (minutes) at `moment`."""
    jc = _julian_century(moment)
    mean_long = (280.46646 + jc * (36000.76983 + jc * 0.0003032)) % 360
    anomaly = math.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    eccentricity = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    centre = (
        math.sin(anomaly) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + math.sin(2 * anomaly) * (0.019993 - 0.000101 * jc)
        + math.sin(3 * anomaly) * 0.000289
    )
    omega = math.radians(125.04 - 1934.136 * jc)
    apparent_long = math.radians(mean_long + centre - 0.00569 - 0.00478 * math.sin(omega))
    mean_obliquity = 23 + (26 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60) / 60
    obliquity = math.radians(mean_obliquity + 0.00256 * math.cos(omega))
    declination = math.degrees(math.asin(math.sin(obliquity) * math.sin(apparent_long)))
    y = math.tan(obliquity / 2) ** 2
    long_rad = math.radians(mean_long)
    equation = 4 * math.degrees(
        y * math.sin(2 * long_rad)
        - 2 * eccentricity * math.sin(anomaly)
        + 4 * eccentricity * y * math.sin(anomaly) * math.cos(2 * long_rad)
        - 0.5 * y * y * math.sin(4 * long_rad)
        - 1.25 * eccentricity**2 * math.sin(2 * anomaly)
    )
    return declination, equation


def dawn(
    day: date, latitude: float, longitude: float, depression: float = ASTRONOMICAL
) -> datetime | None:
    """Return when the sun climbs past `depression` degrees below the horizon on `day` (UTC).

    `day` is the date of that morning at the place (its solar noon's date). None when the sun
    never gets that low or never that high that day (summer nights at high latitudes).
    """
    midnight = datetime.combine(day, time(), tzinfo=UTC)
    # Start at the place's solar noon, then evaluate the sun again at the first estimate.
    estimate = midnight + timedelta(minutes=720 - 4 * longitude)
    for _ in range(2):
        declination, equation = _sun(estimate)
        lat, dec = math.radians(latitude), math.radians(declination)
        cos_hour = math.cos(math.radians(90 + depression)) / (math.cos(lat) * math.cos(dec)) - (
            math.tan(lat) * math.tan(dec)
        )
        if not -1.0 <= cos_hour <= 1.0:
            return None
        hour_angle = math.degrees(math.acos(cos_hour))
        noon = 720 - 4 * longitude - equation
        estimate = midnight + timedelta(minutes=noon - 4 * hour_angle)
    return estimate


def night_end_estimate(
    night: str,
    latitude: float | None,
    longitude: float | None,
    *,
    target_end: datetime | None = None,
    wait_until: datetime | None = None,
) -> dict[str, Any]:
    """Estimate when the observing night `night` (its evening's date) ends, and why.

    The night ends at astronomical dawn of the next morning. A Target Scheduler target ending
    before dawn only ends that target (the scheduler picks another), so it is reported beside
    the estimate, as is a scheduler wait's end; the estimate is the dawn unless no dawn is
    known (no place, or no astronomical night), then the target's end.
    """
    morning = date.fromisoformat(night) + timedelta(days=1)
    sunrise = None
    if latitude is not None and longitude is not None:
        sunrise = dawn(morning, latitude, longitude)
    estimate = sunrise or target_end
    source: str | None = None
    if estimate is not None:
        source = "astronomical_dawn" if sunrise else "target_end"
    return {
        "estimate": estimate,
        "source": source,
        "astronomical_dawn": sunrise,
        "target_end": target_end,
        "wait_until": wait_until,
    }


def target_end_of(data: Mapping[str, Any]) -> datetime | None:
    """Return a Target Scheduler target start's `TargetEndTime` (UTC: the plugin drops 'Z')."""
    text = data.get("TargetEndTime")
    if not isinstance(text, str):
        return None
    try:
        return parse_nina_time(text, UTC)
    except FrameError:  # unreadable, or .NET's unset DateTime: no end
        return None
