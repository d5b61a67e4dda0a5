"""Home Assistant itself restarts mid-night: nothing lost, nothing counted twice.

The first Home Assistant (the harness's) records part of the night live and stops; NINA goes
on imaging while it is down; a second Home Assistant starts on the same config dir (the same
database) with the same config entry, backfills what it missed and follows the rest live.
The session it shows must equal the simulator's ground truth exactly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
import time

from homeassistant import loader
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from integration_helpers import coordinator_of, make_entry, wait_connected, wait_for
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_test_home_assistant

from custom_components.nina_session.const import CONF_DEDUP_WINDOW
from simulator import NinaSimulator, SimEvent, preset_night

# The real dedup window matters here (live events meet their history twins after the restart),
# so the night is paced: at 400x the simple night's identical events are >= 0.3 s apart.
SPEED = 400.0
WINDOW = 0.15


async def play_paced(
    hass: HomeAssistant, entry: MockConfigEntry, sim: NinaSimulator, events: list[SimEvent]
) -> None:
    """Play events live at SPEED; wait until the engine has taken every one."""
    counters = coordinator_of(entry).engine.health.events
    before = counters.processed + counters.duplicates
    await sim.play(events, speed=SPEED)
    await wait_for(
        lambda: counters.processed + counters.duplicates >= before + len(events),
        "every live event to be taken by the engine",
    )
    await hass.async_block_till_done()


def session_facts(session: dict[str, object] | None) -> tuple[object, ...]:
    """Return what a night's session must get right: frames by type and filter, time."""
    assert isinstance(session, dict)
    frames = session["frames"]
    assert isinstance(frames, dict)
    by_filter = {name: item["count"] for name, item in frames["by_filter"].items()}
    return frames["by_type"], by_filter, session["integration_seconds"]


async def test_home_assistant_restart_mid_night_counts_every_frame_once(
    hass: HomeAssistant, sim: NinaSimulator, config_dir: Path
) -> None:
    """Test that a Home Assistant restart mid-night ends with exactly the night's truth."""
    night = preset_night("simple")
    events = list(night.events)
    first, second = len(events) // 3, 2 * len(events) // 3

    entry = make_entry(hass, sim.port)
    hass.config_entries.async_update_entry(entry, options={CONF_DEDUP_WINDOW: WINDOW})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)
    await play_paced(hass, entry, sim, events[:first])
    recorded_before_stop = coordinator_of(entry).engine.health.events.processed
    await hass.async_stop()  # what `ha core restart` does first

    await sim.play(events[first:second], speed=SPEED)  # NINA goes on alone

    async with async_test_home_assistant(config_dir=str(config_dir)) as restarted:
        restarted.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components
        again = MockConfigEntry(
            domain=entry.domain,
            entry_id=entry.entry_id,  # the entry's database is <config>/nina_session/<id>.db
            title=entry.title,
            data=dict(entry.data),
            options=dict(entry.options),
            unique_id=entry.unique_id,
        )
        again.add_to_hass(restarted)
        try:
            assert await restarted.config_entries.async_setup(again.entry_id)
            await restarted.async_block_till_done()
            assert again.state is ConfigEntryState.LOADED
            await wait_connected(restarted, again)
            coordinator = coordinator_of(again)
            # Backfilled on connect: the whole history so far, of which only the gap is new.
            await wait_for(
                lambda: coordinator.engine.health.events.backfilled >= second - first,
                "the backfill of what happened while Home Assistant was down",
            )
            await play_paced(restarted, again, sim, events[second:])

            session = coordinator.data.session
            assert session_facts(session) == (
                night.truth.frames_by_type,
                night.truth.lights_by_filter,
                night.truth.integration_seconds,
            )
            pipeline = coordinator.engine.pipeline
            assert pipeline is not None
            assert pipeline.store.counts()["events"] == len(events)
            assert recorded_before_stop > 0
            frames = restarted.states.get("sensor.rig_1_frames_this_session")
            assert frames is not None
            assert int(frames.state) == sum(night.truth.frames_by_type.values())
        finally:
            await restarted.async_stop(force=True)


async def test_home_assistant_restarted_in_the_middle_of_a_backfill_loses_nothing(
    hass: HomeAssistant, sim: NinaSimulator, config_dir: Path
) -> None:
    """Test a stop while the history read hangs: prompt, and the night is stored once after.

    NINA's history answers without end (a hung plugin, a slow link) while Home Assistant
    starts its backfill; Home Assistant is stopped in the middle of that read and started
    again once the history answers. Nothing of the night may be lost or stored twice.
    """
    night = preset_night("simple")
    events = list(night.events)
    first, second = len(events) // 3, 2 * len(events) // 3

    entry = make_entry(hass, sim.port)
    hass.config_entries.async_update_entry(entry, options={CONF_DEDUP_WINDOW: WINDOW})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)
    await play_paced(hass, entry, sim, events[:first])
    assert await hass.config_entries.async_unload(entry.entry_id)  # HA away a while
    await sim.play(events[first:second], speed=SPEED)  # NINA goes on alone

    sim.serve_history(None, endless=True)
    assert await hass.config_entries.async_setup(entry.entry_id)
    engine = coordinator_of(entry).engine
    # Not `async_block_till_done`: it would wait for the hung read to time out. The socket is
    # open and the backfill after it runs (connected is told once it is over).
    await wait_for(lambda: sim.open_sockets == 1, "the socket open")
    await asyncio.sleep(0.5)
    history = engine.health.history
    assert history.reads == 0 and history.failures == 0  # in the middle of the read
    assert not engine.health.connected
    started = time.monotonic()
    await hass.async_stop()
    assert time.monotonic() - started < 5.0  # the hung read does not hold the stop

    sim.serve_history(None)  # NINA answers again
    async with async_test_home_assistant(config_dir=str(config_dir)) as restarted:
        restarted.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)  # load custom_components
        again = MockConfigEntry(
            domain=entry.domain,
            entry_id=entry.entry_id,
            title=entry.title,
            data=dict(entry.data),
            options=dict(entry.options),
            unique_id=entry.unique_id,
        )
        again.add_to_hass(restarted)
        try:
            assert await restarted.config_entries.async_setup(again.entry_id)
            await restarted.async_block_till_done()
            await wait_connected(restarted, again)
            coordinator = coordinator_of(again)
            await wait_for(lambda: coordinator.engine.health.history.reads >= 1, "the backfill")
            await play_paced(restarted, again, sim, events[second:])
            assert session_facts(coordinator.data.session) == (
                night.truth.frames_by_type,
                night.truth.lights_by_filter,
                night.truth.integration_seconds,
            )
            pipeline = coordinator.engine.pipeline
            assert pipeline is not None
            assert pipeline.store.counts()["events"] == len(events)  # each once
        finally:
            await restarted.async_stop(force=True)
