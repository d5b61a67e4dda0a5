"""Realistic input for the benchmarks, made with the shared NINA simulator's night generator.

Nights follow each other on consecutive dates, each a varied but plausible plan (one or two
targets, LRGB or narrowband or OSC, 1-5 minute subs for 5-9 hours, dithers, autofocus,
sometimes a meridian flip, a cloud pause or calibration frames). About 40 % of the events are
IMAGE-SAVE (each with its full ImageStatistics), another 40 % IMAGE-PREPARED: the mix a real
night sends. Everything is deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
import random

from simulator.night import CATALOG, Night, NightSpec, SimEvent, generate_night, socket_text

#: Receive time = NINA's event time plus this (the live path stamps frames on arrival).
RECEIVE_DELAY = timedelta(milliseconds=50)
START_DATE = date(2025, 1, 1)
TZ = "Europe/Berlin"

_TARGETS = tuple(sorted(CATALOG))
_FILTER_SETS: tuple[tuple[str, ...], ...] = (
    ("L", "R", "G", "B"),
    ("Ha", "OIII", "SII"),
    ("L", "R", "G", "B", "Ha", "OIII"),
    (),
)
# Seconds between two subs besides the exposure (download, dither settle, autofocus share).
_OVERHEAD_S = 12.0

Frame = tuple[str, datetime]


def night_spec(rng: random.Random, day: date, *, lights: int | None = None) -> NightSpec:
    """One plausible night; `lights` asks for about that many LIGHT frames (short subs)."""
    targets = tuple(rng.sample(_TARGETS, rng.choice((1, 1, 2))))
    filters = rng.choice(_FILTER_SETS)
    slots = len(targets) * max(1, len(filters))
    if lights is None:
        exposure = rng.choice((60.0, 120.0, 180.0, 300.0))
        hours = rng.uniform(5.0, 9.0)
        per_filter = max(2, int(hours * 3600 / (exposure + _OVERHEAD_S) / slots))
    else:
        per_filter = max(1, round(lights / slots))
        exposure = max(1.0, min(300.0, 9 * 3600 / (per_filter * slots) - _OVERHEAD_S))
    return NightSpec(
        date=day,
        tz=TZ,
        seed=rng.randrange(2**31),
        targets=targets,
        filters=filters,
        light_exposure=round(exposure, 1),
        lights_per_filter=per_filter,
        dither_every=rng.choice((0, 2, 3, 5)),
        autofocus_every_filter_change=rng.random() < 0.7,
        meridian_flip=rng.random() < 0.4,
        cloud_pause=rng.random() < 0.25,
        nina_restart=rng.random() < 0.05,
        flats_per_filter=rng.choice((0, 0, 15)),
        darks=rng.choice((0, 0, 10)),
        bias=rng.choice((0, 20)),
        use_target_scheduler=rng.random() < 0.5,
        start_hour=round(rng.uniform(18.5, 20.5), 2),
        af_error_every=rng.choice((0, 0, 0, 4)),
    )


def iter_nights(
    seed: int = 7, start: date = START_DATE, *, lights: int | None = None
) -> Iterator[Night]:
    """Consecutive nights, forever."""
    rng = random.Random(seed)
    day = start
    while True:
        yield generate_night(night_spec(rng, day, lights=lights))
        day += timedelta(days=1)


def nights(count: int, seed: int = 7, *, lights: int | None = None) -> list[Night]:
    """Return `count` consecutive nights."""
    source = iter_nights(seed, lights=lights)
    return [next(source) for _ in range(count)]


def stretch(count: int, seed: int = 7) -> list[SimEvent]:
    """Exactly `count` events of consecutive nights, in time order."""
    events: list[SimEvent] = []
    for night in iter_nights(seed):
        events.extend(night.events)
        if len(events) >= count:
            return events[:count]
    raise AssertionError("unreachable")


def live_frame(event: SimEvent) -> Frame:
    """Return the socket text and the (UTC) time the engine would have received it."""
    return socket_text(event), (event.time + RECEIVE_DELAY).astimezone(UTC)


def live_frames(events: list[SimEvent]) -> list[Frame]:
    """Return each event as a live frame."""
    return [live_frame(event) for event in events]


def iter_live_frames(count: int, seed: int = 11) -> Iterator[Frame]:
    """`count` frames generated night by night (for runs too large to hold in memory)."""
    left = count
    for night in iter_nights(seed):
        for event in night.events:
            if left == 0:
                return
            left -= 1
            yield live_frame(event)


def image_save_share(events: list[SimEvent]) -> float:
    """Return the share of IMAGE-SAVE events (0 for no events)."""
    return sum(event.name == "IMAGE-SAVE" for event in events) / max(1, len(events))
