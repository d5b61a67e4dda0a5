"""Small builders of plugin-shaped messages for engine unit tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any

T0 = datetime(2026, 11, 24, 18, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """Return the time `minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def envelope(response: Any, *, success: bool = True) -> dict[str, Any]:
    """Wrap `response` in the plugin's socket envelope, successful or failed."""
    return {"Response": response, "Error": "" if success else "boom",
            "StatusCode": 200 if success else 500, "Success": success, "Type": "Socket"}  # fmt: skip


def event(name: str, **data: Any) -> dict[str, Any]:
    """Build a successful socket message for event `name` with `data` as its fields."""
    return envelope({"Event": name, **data})


def image(
    minutes: float, image_type: str | None = "LIGHT", filter_name: str | None = "Ha",
    exposure: float = 300.0, target: str | None = "M 31", **extra: Any,
) -> dict[str, Any]:  # fmt: skip
    """IMAGE-SAVE whose capture started `minutes` after T0 (NINA local time +01:00)."""
    taken = (at(minutes) + timedelta(hours=1)).replace(tzinfo=None)
    stats: dict[str, Any] = {"ExposureTime": exposure, "Date": taken.isoformat() + "+01:00",
                             "HFR": 2.0, "Stars": 1000, "RmsText": 'Tot: 0.80 (0.60")', **extra}  # fmt: skip
    if image_type is not None:
        stats["ImageType"] = image_type
    if filter_name is not None:
        stats["Filter"] = filter_name
    if target is not None:
        stats["TargetName"] = target
    return event("IMAGE-SAVE", ImageStatistics=stats)


def frames(*items: tuple[float, dict[str, Any]]) -> list[tuple[str, datetime]]:
    """(minutes after T0, message) pairs → (raw text, receive time) for ingest_frames."""
    return [(json.dumps(message), at(minutes)) for minutes, message in items]
