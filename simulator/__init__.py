"""N.I.N.A. Advanced API plugin simulator: a night generator and an aiohttp server."""

from simulator.night import (
    PRESETS,
    GroundTruth,
    Night,
    NightSpec,
    SimEvent,
    generate_night,
    generate_week,
    history_item,
    image_record,
    net_time,
    preset_night,
    socket_message,
    socket_text,
    to_jsonl_lines,
    to_rest,
    truth_from_events,
)
from simulator.server import THUMBNAIL_JPEG, NinaSimulator, envelope, error_envelope
from simulator.truth import SessionStates
from simulator.wire import WireRenderer, WireShape

__all__ = [
    "PRESETS",
    "THUMBNAIL_JPEG",
    "GroundTruth",
    "Night",
    "NightSpec",
    "NinaSimulator",
    "SessionStates",
    "SimEvent",
    "WireRenderer",
    "WireShape",
    "envelope",
    "error_envelope",
    "generate_night",
    "generate_week",
    "history_item",
    "image_record",
    "net_time",
    "preset_night",
    "socket_message",
    "socket_text",
    "to_jsonl_lines",
    "to_rest",
    "truth_from_events",
]
