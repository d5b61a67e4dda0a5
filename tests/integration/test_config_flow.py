"""Config, reconfigure and options flows against the simulator and failing servers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from unittest.mock import AsyncMock, patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from integration_helpers import coordinator_of, make_entry
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.nina_session.config_flow import instance_unique_id
from custom_components.nina_session.const import (
    CONF_BACKFILL_ON_CONNECT,
    CONF_DEBUG_RECORDING,
    CONF_DEDUP_WINDOW,
    CONF_HOST,
    CONF_IDLE_GAP_MINUTES,
    CONF_INSTANCE,
    CONF_NAME,
    CONF_NINA_TIMEZONE,
    CONF_PORT,
    CONF_RETENTION_DAYS,
    CONF_TLS,
    CONF_VERIFY_TLS,
    DOMAIN,
)
from simulator import NinaSimulator


@pytest.fixture
async def mock_setup(hass: HomeAssistant) -> AsyncIterator[AsyncMock]:
    """Flows only: entries are created but not set up (and unloaded while still mocked)."""
    with (
        patch("custom_components.nina_session.async_setup", return_value=True),
        patch("custom_components.nina_session.async_setup_entry", return_value=True) as setup,
        patch("custom_components.nina_session.async_unload_entry", return_value=True),
    ):
        yield setup
        for entry in hass.config_entries.async_entries(DOMAIN):
            await hass.config_entries.async_unload(entry.entry_id)


def user_input(port: int, host: str = "127.0.0.1", **extra: Any) -> dict[str, Any]:
    """Return the user step's input for `host` and `port`, without TLS."""
    return {CONF_HOST: host, CONF_PORT: port, CONF_TLS: False, CONF_VERIFY_TLS: True, **extra}


async def start_user_flow(hass: HomeAssistant) -> str:
    """Start a user flow; check it shows the empty user form; return its ID."""
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    flow_id: str = result["flow_id"]
    return flow_id


# -- unique id --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("NINA.Local", 1888, "nina.local:1888"),
        (" nina.local. ", 1889, "nina.local:1889"),
        ("192.168.001.5".replace("001", "1"), 1888, "192.168.1.5:1888"),
        ("[2001:DB8:0:0::1]", 1888, "[2001:db8::1]:1888"),
        ("2001:db8::1", 1888, "[2001:db8::1]:1888"),
    ],
)
def test_unique_id_is_normalized(host: str, port: int, expected: str) -> None:
    """Test that the unique ID is host:port with the host normalized (case, dots, IPv6)."""
    assert instance_unique_id(host, port) == expected


# -- user step --------------------------------------------------------------------------
async def test_user_creates_entry(
    hass: HomeAssistant, sim: NinaSimulator, mock_setup: AsyncMock
) -> None:
    """Test that the user step creates an entry titled by host and port when no name is given."""
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim.port, name=""))
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"NINA 127.0.0.1:{sim.port}"
    assert result["data"] == {
        CONF_HOST: "127.0.0.1",
        CONF_PORT: sim.port,
        CONF_TLS: False,
        CONF_VERIFY_TLS: True,
        CONF_INSTANCE: "nina",
    }
    assert result["result"].unique_id == f"127.0.0.1:{sim.port}"
    assert len(mock_setup.mock_calls) == 1


async def test_user_with_name_and_instance_ids_stay_unique(
    hass: HomeAssistant, sim: NinaSimulator, mock_setup: AsyncMock
) -> None:
    """Test that the name titles the entry, input is stripped and the instance ID stays unique."""
    MockConfigEntry(
        domain=DOMAIN, data={CONF_INSTANCE: "rig_1"}, unique_id="other:1888"
    ).add_to_hass(hass)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(sim.port, host=" 127.0.0.1 ", name=" Rig 1 ")
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Rig 1"
    assert result["data"][CONF_HOST] == "127.0.0.1"
    assert result["data"][CONF_NAME] == "Rig 1"
    assert result["data"][CONF_INSTANCE] == "rig_1_2"


async def test_cannot_connect_then_recovers(hass: HomeAssistant, sim: NinaSimulator) -> None:
    """Test that NINA offline shows cannot_connect and the same flow succeeds once it is back."""
    await sim.set_offline(True)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim.port))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}

    await sim.set_offline(False)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_unreachable_port(hass: HomeAssistant, free_port: int) -> None:
    """Test that a port where nothing listens shows cannot_connect."""
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(free_port))
    assert result["errors"] == {"base": "cannot_connect"}


async def test_not_nina(hass: HomeAssistant, html_server: int) -> None:
    """Test that a server answering HTML instead of the plugin shows not_nina."""
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(html_server))
    assert result["errors"] == {"base": "not_nina"}


@pytest.mark.parametrize("host", ["http://nina.local", "nina.local/v2", "nina.local:1888", " "])
async def test_invalid_host(hass: HomeAssistant, host: str) -> None:
    """Test that a host with a scheme, a path, a port or only whitespace shows invalid_host."""
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(1888, host=host))
    assert result["errors"] == {"base": "invalid_host"}


async def test_unsupported_version(hass: HomeAssistant, sim: NinaSimulator) -> None:
    """Test that a plugin older than the minimum version shows unsupported_version."""
    sim.set_plugin_version("1.0.5.0")
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input(sim.port))
    assert result["errors"] == {"base": "unsupported_version"}


async def test_unexpected_error(hass: HomeAssistant) -> None:
    """Test that an unexpected exception while probing shows unknown."""
    flow_id = await start_user_flow(hass)
    with patch(
        "custom_components.nina_session.config_flow.NinaClient.detect_api",
        side_effect=RuntimeError("boom"),
    ):
        result = await hass.config_entries.flow.async_configure(flow_id, user_input(1888))
    assert result["errors"] == {"base": "unknown"}


async def test_user_accepts_a_v3_only_plugin(
    hass: HomeAssistant, socket_enabled: None, mock_setup: AsyncMock
) -> None:
    """Test that a plugin speaking only API v3 passes the probe and makes an entry."""
    async with NinaSimulator(plugin_version="3.0.0.0", api="v3") as v3_sim:
        flow_id = await start_user_flow(hass)
        result = await hass.config_entries.flow.async_configure(flow_id, user_input(v3_sim.port))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_PORT] == v3_sim.port


async def test_already_configured(hass: HomeAssistant, sim: NinaSimulator) -> None:
    """Test that the user flow aborts for a host and port that are already configured."""
    make_entry(hass, sim.port)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(sim.port, host="127.0.0.1")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("configured", "typed"), [("127.0.0.1", "localhost"), ("localhost", "127.0.0.1")]
)
async def test_the_same_nina_by_another_name_is_refused(
    hass: HomeAssistant, sim: NinaSimulator, configured: str, typed: str
) -> None:
    """Test that a host name and an IP of one NINA do not make two entries (two databases)."""
    entry = make_entry(hass, sim.port, name="Observatory")
    hass.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_HOST: configured},
        unique_id=instance_unique_id(configured, sim.port),
    )
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(sim.port, host=typed)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured_address"
    assert result["description_placeholders"] == {"title": "Observatory", "host": configured}
    # Another port of the same computer is another NINA.
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, user_input(sim.port + 1, host=typed)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_reconfigure_to_the_same_nina_by_another_name_is_refused(
    hass: HomeAssistant, sim: NinaSimulator
) -> None:
    """Test that reconfiguring onto another entry's NINA under another name aborts."""
    make_entry(hass, sim.port, name="Other", instance="other")
    entry = make_entry(hass, 1)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(sim.port, host="localhost")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured_address"
    assert entry.data[CONF_PORT] == 1


# -- reconfigure ------------------------------------------------------------------------
async def test_reconfigure(hass: HomeAssistant, sim: NinaSimulator, mock_setup: AsyncMock) -> None:
    """Test that reconfigure retries on cannot_connect, then updates port and name, not instance."""
    entry = make_entry(hass, 1)  # an old, wrong port
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    await sim.set_offline(True)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(sim.port, name="Rig 1")
    )
    assert result["errors"] == {"base": "cannot_connect"}

    await sim.set_offline(False)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(sim.port, name="Observatory")
    )
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.unique_id == f"127.0.0.1:{sim.port}"
    assert entry.title == "Observatory"
    assert entry.data[CONF_PORT] == sim.port
    assert entry.data[CONF_NAME] == "Observatory"
    assert entry.data[CONF_INSTANCE] == "rig_1"  # entity ids and session ids stay


async def test_reconfigure_to_another_entrys_instance(
    hass: HomeAssistant, sim: NinaSimulator
) -> None:
    """Test that reconfiguring to the address of another entry aborts and changes nothing."""
    make_entry(hass, sim.port, name="Other", instance="other")
    entry = make_entry(hass, 1)
    result = await entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(sim.port))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert entry.data[CONF_PORT] == 1


# -- options ----------------------------------------------------------------------------
async def test_options_reload_the_entry(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: Any
) -> None:
    """Test that saving options reloads the entry with a new engine configured from them."""
    entry = await setup_entry()
    engine_before = coordinator_of(entry).engine
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    options = {
        CONF_RETENTION_DAYS: 30,
        CONF_IDLE_GAP_MINUTES: 90,
        CONF_DEDUP_WINDOW: 2.5,
        CONF_BACKFILL_ON_CONNECT: False,
        CONF_NINA_TIMEZONE: "Europe/Berlin",
        CONF_DEBUG_RECORDING: True,
    }
    result = await hass.config_entries.options.async_configure(result["flow_id"], options)
    await hass.async_block_till_done()
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == options
    assert entry.state is ConfigEntryState.LOADED
    engine = coordinator_of(entry).engine
    assert engine is not engine_before
    config = engine.config
    assert config.backfill_on_connect is False
    assert config.options.idle_gap.total_seconds() == 90 * 60
    assert config.options.dedup_window.total_seconds() == 2.5
    assert str(config.options.tz) == "Europe/Berlin"
    assert config.record_path is not None
    assert config.record_path.name == f"{entry.entry_id}-recording.jsonl"
    assert config.record_path.parent == config.db_path.parent


async def test_options_defaults_and_bad_timezone(
    hass: HomeAssistant, sim: NinaSimulator, setup_entry: Any
) -> None:
    """Test the options form's defaults and that an unknown time zone is refused."""
    entry = await setup_entry()
    result = await hass.config_entries.options.async_init(entry.entry_id)
    schema = result["data_schema"]
    assert schema is not None
    defaults = schema({})
    assert defaults == {
        CONF_RETENTION_DAYS: 365,
        CONF_IDLE_GAP_MINUTES: 120,
        CONF_DEDUP_WINDOW: 0.0,  # the entry's own option
        CONF_BACKFILL_ON_CONNECT: True,
        CONF_DEBUG_RECORDING: False,
    }
    with pytest.raises((InvalidData, vol.Invalid)):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {**defaults, CONF_NINA_TIMEZONE: "Mars/Olympus_Mons"}
        )
