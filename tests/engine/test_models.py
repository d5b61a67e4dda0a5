"""`NinaEvent.build`: the event its constructor makes, for the normalizer's hot path."""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta

import pytest

from custom_components.nina_session.engine.models import Frame, NinaEvent, Source, frame_identity

_FRAME = Frame("LIGHT", 300.0, "Ha", "M 31", "cam", "scope", 2.1, 900, 0.6, -10.0, None, "a.fits")


def _every_field(event: NinaEvent) -> dict[str, object]:
    return {field.name: getattr(event, field.name) for field in fields(event)} | {
        "ts": event.ts,
        "key": event.key,
    }


@pytest.mark.parametrize(
    "time",
    [
        datetime(2026, 11, 24, 18, 0, 0, 123456, UTC),
        datetime(2026, 11, 24, 18, 0, 0, 500, UTC),  # a half millisecond: the key rounds it
        datetime(1970, 1, 1, tzinfo=UTC) - timedelta(microseconds=1),
        datetime(8999, 12, 31, 23, 59, 59, 999999, UTC),
    ],
)
def test_build_makes_the_constructors_event(time: datetime) -> None:
    """Test that every field, `ts` and `key` are the constructor's, with micros or without."""
    micros = (time - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    fingerprint, key_us = frame_identity(time, micros)
    cases = [
        (("GUIDER-DITHER", time), ({}, Source.HISTORY, "GUIDER-DITHER", False)),
        (("IMAGE-SAVE", time), ({}, Source.HISTORY, fingerprint, True, _FRAME, "{}", True)),
    ]
    for (name, moment), rest in cases:
        expected = NinaEvent(name, moment, *rest)  # type: ignore[arg-type]
        for given in (micros, None):
            built = NinaEvent.build(name, moment, given, *rest)  # type: ignore[arg-type]
            assert _every_field(built) == _every_field(expected)
    frame = NinaEvent(
        "IMAGE-SAVE", time, {}, Source.LIVE, fingerprint, True, _FRAME, None, False, key_us
    )
    built = NinaEvent.build(
        "IMAGE-SAVE", time, micros, {}, Source.LIVE, fingerprint, True, _FRAME, None, False, key_us
    )
    assert _every_field(built) == _every_field(frame)
    later = time - timedelta(hours=1)
    for copy in (replace(built, time=later), built.moved_to(later)):
        assert _every_field(copy) == _every_field(replace(frame, time=later))
