"""The database file turned to garbage while Home Assistant runs: a repair issue, no loss.

The engine finds the damage on its clock, saves what its connection still reads into a sound
file, keeps the garbage aside and tells the user with the `database_recovered` repair issue;
the night in the database is then the simulator's, each event once.
"""

from __future__ import annotations

from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from integration_helpers import coordinator_of, make_entry, wait_connected
from pytest_homeassistant_custom_component.common import MockConfigEntry
from test_restart import WINDOW, play_paced

from custom_components.nina_session.const import CONF_DEDUP_WINDOW, DOMAIN, ISSUE_DATABASE_RECOVERED
from simulator import NinaSimulator, preset_night

GARBAGE = b"\x00garbage\xff" * 8192


async def test_a_database_replaced_with_garbage_raises_a_repair_issue_and_loses_nothing(
    hass: HomeAssistant, sim: NinaSimulator, config_dir: Path
) -> None:
    """Test the repair issue, the garbage kept aside, and every event stored once."""
    night = preset_night("simple")
    half = len(night.events) // 2
    entry: MockConfigEntry = make_entry(hass, sim.port)
    # History is read again after the recovery: live events must meet their history twins.
    hass.config_entries.async_update_entry(entry, options={CONF_DEDUP_WINDOW: WINDOW})
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await wait_connected(hass, entry)
    engine = coordinator_of(entry).engine
    await play_paced(hass, entry, sim, night.events[:half])

    db = config_dir / "nina_session" / f"{entry.entry_id}.db"
    other = db.with_name("restored-from-elsewhere")
    other.write_bytes(GARBAGE)
    other.replace(db)
    await engine.tick()  # the engine's clock (every minute) finds it
    await hass.async_block_till_done()

    moved = list(db.parent.glob(f"{db.name}.corrupt-*"))
    assert len(moved) == 1 and moved[0].read_bytes() == GARBAGE
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"{ISSUE_DATABASE_RECOVERED}_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {"name": entry.title, "moved_to": moved[0].name}
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"storage_failing_{entry.entry_id}") is None

    await play_paced(hass, entry, sim, night.events[half:])
    health = await engine.health_json()
    assert health["db"]["recoveries"] == 1 and health["db"]["error"] is None
    assert health["db"]["events"] == len(night.events)
    session = coordinator_of(entry).data.session
    assert session is not None and session["frames"]["by_type"] == night.truth.frames_by_type
    assert await hass.config_entries.async_unload(entry.entry_id)
