"""`python -m simulator --loop --day S`: a quiet day between looped nights (`make demo`)."""

from __future__ import annotations

import asyncio
import time

import pytest

from simulator.__main__ import build_parser, run


async def test_loop_leaves_a_quiet_day_between_nights(capsys: pytest.CaptureFixture[str]) -> None:
    """Test that a looped night starts only after the day: nights moved to now stay apart.

    Without it every looped night ran into the one before, and the demo showed one endless
    session (12 h of integration, three meridian flips after 15 minutes).
    """
    args = build_parser().parse_args(
        ["--port", "0", "--speed", "0", "--night", "simple", "--loop", "--day", "0.6"]
    )
    task = asyncio.create_task(run(args))
    output, first_done, second_playing = "", None, None
    deadline = time.monotonic() + 30
    try:
        while second_playing is None and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            output += capsys.readouterr().out
            if first_done is None and "  done:" in output:
                first_done = time.monotonic()
            if output.count("playing ") >= 2:
                second_playing = time.monotonic()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert first_done is not None and second_playing is not None, output
    assert second_playing - first_done >= 0.5
    assert "day: 0.6 s of quiet before the next night" in output
