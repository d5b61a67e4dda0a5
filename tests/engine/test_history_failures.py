"""A history read that fails costs that read, never the live stream.

The real engine against the simulator over real sockets; the simulator serves a broken
`/event-history` (too large, not UTF-8, endless, of no usable shape). The socket stays up,
live frames are processed, the failure shows in health and the read is retried with backoff
until the history is fine again.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from custom_components.nina_session.engine.engine import NinaEngine
from simulator.server import NinaSimulator
from tests.engine.test_engine_live import make_engine, until

LIVE_DITHER = json.dumps(
    {"Response": {"Event": "GUIDER-DITHER"}, "Success": True, "Type": "Socket", "Error": ""}
)
CAP = 200_000


def history_body(items: list[str]) -> bytes:
    """Return an `/event-history` answer holding these raw JSON items."""
    return b'{"Success":true,"Type":"API","Error":"","StatusCode":200,"Response":[%s]}' % (
        ",".join(items).encode()
    )


TOO_LARGE = history_body(
    ['{"Event":"GUIDER-DITHER","Time":"2026-11-24T19:00:00+01:00","Pad":"%s"}' % ("x" * 1000)] * 250
)
BROKEN = {
    "over_the_cap": (TOO_LARGE, False),
    "not_utf8": (b'{"Success":true,"Type":"API","Response":["\xff\xfe\xfa"]}', False),
    "bad_shape": (b'{"Success":true,"Type":"API","Response":5}', False),
    "endless": (None, True),
}


async def broken_history_then_fixed(
    sim: NinaSimulator, session: aiohttp.ClientSession, db: Path, body: bytes | None, endless: bool
) -> NinaEngine:
    """Start an engine on a broken history; check the live stream; fix the history."""
    sim.serve_history(body, endless=endless)
    engine = make_engine(
        sim.port, db, session, history_retry=0.2, max_history_bytes=CAP, request_timeout=1.0
    )
    await engine.start()
    history = engine.health.history
    await until(lambda: history.failures >= 1 and engine.health.connected, "a failed read")
    await sim.send_raw(LIVE_DITHER)
    await until(lambda: engine.health.events.processed >= 1, "the live frame processed")
    await until(lambda: history.failures >= 2, "the read retried")
    assert history.reads == 0 and history.last_error
    sim.serve_history(None)
    await until(lambda: history.reads >= 1, "a read once the history is fine")
    assert history.consecutive_failures == 0
    assert sim.connections_accepted == 1 and engine.health.reconnects == 0
    assert engine.health.connected
    return engine


@pytest.mark.parametrize("kind", list(BROKEN))
async def test_a_failed_history_read_never_drops_the_live_socket(
    kind: str, sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a broken history is counted and retried while the live stream goes on."""
    body, endless = BROKEN[kind]
    engine = await broken_history_then_fixed(sim, session, tmp_path / "nina.db", body, endless)
    try:
        report = (await engine.health_json())["history"]
        assert report["failures"] >= 2 and report["reads"] >= 1
        assert report["max_bytes"] == CAP and report["over_cap"] is False
    finally:
        await engine.stop()


async def test_the_byte_cap_shows_in_health(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a history over the cap is flagged in health, and when it was hit stays."""
    sim.serve_history(TOO_LARGE)
    engine = make_engine(
        sim.port, tmp_path / "nina.db", session, history_retry=0.2, max_history_bytes=CAP
    )
    await engine.start()
    try:
        await until(lambda: engine.health.history.failures >= 2, "failed reads")
        health = await engine.health_json()
        report = health["history"]
        assert report["over_cap"] is True and report["max_bytes"] == CAP
        assert str(CAP) in report["last_error"]
        assert report["over_cap_count"] == report["failures"] >= 2
        hit_at = report["over_cap_at"]
        assert hit_at is not None and hit_at.endswith("Z")
        budget = health["budgets"]["history"]
        assert budget["max_bytes"] == CAP and budget["refused"] >= 2
        sim.serve_history(None)  # NINA restarted: its history is small again
        await until(lambda: engine.health.history.reads >= 1, "a good read")
        health = await engine.health_json()
        assert health["history"]["over_cap"] is False  # not now, but it was, and when:
        assert health["history"]["over_cap_at"] is not None
        assert health["budgets"]["history"]["last_refused_at"] is not None
    finally:
        await engine.stop()


async def test_a_history_item_with_a_lone_surrogate_is_stored_with_the_others(
    sim: NinaSimulator, session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """Test that a backfill whose middle item has a lone surrogate stores all three items."""
    sim.serve_history(
        history_body(
            [
                '{"Event":"SEQUENCE-STARTING","Time":"2026-11-24T19:00:00+01:00"}',
                '{"Event":"X\\ud800","Note\\udc00":"\\udfff","Time":"2026-11-24T19:01:00+01:00"}',
                '{"Event":"GUIDER-START","Time":"2026-11-24T19:02:00+01:00"}',
            ]
        )
    )
    engine = make_engine(sim.port, tmp_path / "nina.db", session)
    await engine.start()
    try:
        await until(lambda: engine.health.history.reads >= 1, "the backfill")
        health = await engine.health_json()
        assert health["db"]["events"] == 3 and health["history"]["failures"] == 0
    finally:
        await engine.stop()
