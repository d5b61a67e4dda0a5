"""History retention: the option becomes the engine's prune cutoff, at setup and daily."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from unittest.mock import AsyncMock, patch

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
from integration_helpers import coordinator_of
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.nina_session.const import CONF_RETENTION_DAYS
from custom_components.nina_session.coordinator import RETENTION_INTERVAL
from custom_components.nina_session.engine.engine import NinaEngine
from simulator import NinaSimulator

SetupEntry = Callable[..., Awaitable[MockConfigEntry]]


def age(cutoff: datetime) -> int:
    """Whole days between the cutoff and now."""
    return round((dt_util.utcnow() - cutoff) / timedelta(days=1))


async def test_retention_option_prunes_at_setup_and_daily(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: SetupEntry
) -> None:
    """Test that history is pruned by the retention option at setup, on reload and daily."""
    with patch.object(NinaEngine, "prune_history", AsyncMock(return_value=(2, 40))) as prune:
        entry = await setup_entry()
        await hass.async_block_till_done(wait_background_tasks=True)
        assert prune.await_count == 1
        assert age(prune.await_args.args[0]) == 365

        hass.config_entries.async_update_entry(entry, options={CONF_RETENTION_DAYS: 30})
        await hass.async_block_till_done(wait_background_tasks=True)  # reloaded: pruned again
        assert prune.await_count == 2
        assert age(prune.await_args.args[0]) == 30

        async_fire_time_changed(hass, dt_util.utcnow() + RETENTION_INTERVAL)
        await hass.async_block_till_done(wait_background_tasks=True)
        assert prune.await_count == 3


async def test_retention_failure_is_logged_not_raised(
    hass: HomeAssistant,
    sim: NinaSimulator,
    setup_entry: SetupEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Test that a failing prune is logged and the coordinator stays healthy."""
    with patch.object(NinaEngine, "prune_history", AsyncMock(side_effect=OSError("disk"))):
        entry = await setup_entry()
        await hass.async_block_till_done(wait_background_tasks=True)
    assert "Deleting history older than 365 days failed" in caplog.text
    assert coordinator_of(entry).last_update_success
