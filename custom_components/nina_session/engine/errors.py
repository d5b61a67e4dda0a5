"""The one error type for input we cannot use."""

from __future__ import annotations


class FrameError(ValueError):
    """A socket frame or REST payload that cannot be turned into an event.

    `reason` is a short, stable key (``not_json``, ``too_large``, ``bad_shape``, …) that the
    engine counts per reason in its health, so users see *why* frames were rejected.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        """Initialize the error with its counted `reason` and an optional detail."""
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
