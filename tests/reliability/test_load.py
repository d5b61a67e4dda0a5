"""Load: 200 events/s through the live engine over the simulator's socket.

`python -m soak --load` runs ten minutes; here thirty seconds. Only correctness is asserted
(every event stored once, every frame counted); the event-loop lag and the latency are
measured and logged (at INFO: shown with --log-level=INFO), never asserted.
"""

from __future__ import annotations

import logging
from pathlib import Path

from soak import LoadConfig, run_load

_LOGGER = logging.getLogger(__name__)


async def test_200_events_per_second_for_30_seconds_are_all_processed(tmp_path: Path) -> None:
    """Test that 200 events/s for 30 s through the live engine are all stored, each once."""
    lines: list[str] = []
    report = await run_load(
        LoadConfig(rate=200.0, seconds=30.0, db_path=tmp_path / "load.db"), say=lines.append
    )
    _LOGGER.info("%s", "\n".join(lines))
    assert report.emitted == 6001  # SEQUENCE-STARTING + 30 s x 200/s
    assert report.stored == report.emitted, "\n".join(lines)
    assert report.lights_stored == report.lights_expected
    assert report.dithers_stored == report.dithers_expected
    assert report.duplicates == 0 and report.rejected == 0
    assert report.lag.samples > 0
    assert report.ok
