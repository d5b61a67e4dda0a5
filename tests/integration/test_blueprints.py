"""The automation blueprints in blueprints/automation/nina_session/.

Each blueprint must be a valid automation blueprint for HA's own schema, and an automation
built from it with inputs must validate and load. Then each is run against the simulator:
the summary is sent when the session ends, the alerts fire for lost guiding and long
pauses, and the roof and heaters are switched off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
import shutil
from typing import Any

from api_helpers import engine_of, now_event, play, sync_engine
from homeassistant.components import automation
from homeassistant.components.automation.config import (
    AUTOMATION_BLUEPRINT_SCHEMA,
    async_validate_config_item,
)
from homeassistant.components.blueprint import Blueprint
from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util, yaml as yaml_util
from integration_helpers import pass_the_idle_gap, wait_for
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_mock_service,
)

from custom_components.nina_session.const import DOMAIN

BLUEPRINT_DIR = Path(__file__).resolve().parents[2] / "blueprints" / "automation" / DOMAIN
BLUEPRINTS = sorted(path.name for path in BLUEPRINT_DIR.glob("*.yaml"))
NOTIFY = "session_ended_notify.yaml"
ALERT = "guiding_lost_alert.yaml"
EQUIPMENT = "session_end_equipment_off.yaml"
SHUTDOWN = "observatory_shutdown.yaml"
STARTUP = "observatory_startup.yaml"
REPORT = "night_report_morning.yaml"


def test_the_shipped_blueprints_are_there() -> None:
    """Test that the shipped blueprints are in the blueprint folder."""
    assert {NOTIFY, ALERT, EQUIPMENT, SHUTDOWN, STARTUP, REPORT} <= set(BLUEPRINTS)


@pytest.mark.parametrize("name", BLUEPRINTS)
def test_blueprint_schema(name: str) -> None:
    """Valid for HA's automation blueprint schema; metadata a user sees is complete."""
    path = BLUEPRINT_DIR / name
    data = yaml_util.load_yaml_dict(path)
    blueprint = Blueprint(
        data,
        path=f"{DOMAIN}/{name}",
        expected_domain=automation.DOMAIN,
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    assert blueprint.validate() is None  # min_version is met by the HA we test with
    metadata = blueprint.metadata
    assert metadata["name"].startswith("NINA")
    assert metadata["description"]
    assert metadata["source_url"].endswith(f"/blueprints/automation/{DOMAIN}/{name}")
    for key, spec in blueprint.inputs.items():
        assert spec and spec.get("name"), f"input {key} has no name"
        assert "selector" in spec, f"input {key} has no selector"
    nina = blueprint.inputs["nina_device"]["selector"]["device"]["filter"]
    assert nina == [{"integration": DOMAIN}]


# -- automations built from the blueprints ---------------------------------------------


@pytest.fixture
async def blueprints_installed(
    hass: HomeAssistant, config_dir: Path, loaded_entry: MockConfigEntry
) -> AsyncIterator[Path]:
    """Install the blueprints where HA looks for them: <config>/blueprints/automation/nina_session.

    At the end, runs still waiting (a pause alert waits for minutes) are stopped, before the
    entry unloads and the harness waits for every task.
    """
    target = config_dir / "blueprints" / automation.DOMAIN / DOMAIN
    target.mkdir(parents=True)
    for name in BLUEPRINTS:
        shutil.copy(BLUEPRINT_DIR / name, target / name)
    yield target
    if hass.services.has_service(automation.DOMAIN, "turn_off"):
        await hass.services.async_call(
            automation.DOMAIN,
            "turn_off",
            {"entity_id": "all", "stop_actions": True},
            blocking=True,
        )


def device_id_of(hass: HomeAssistant) -> str:
    """Return the device ID of the `rig_1` NINA device."""
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "rig_1")})
    assert device is not None
    return device.id


def use_blueprint(name: str, alias: str, **inputs: Any) -> dict[str, Any]:
    """Return an automation config `alias` that uses blueprint `name` with `inputs`."""
    return {
        "id": alias,
        "alias": alias,
        "use_blueprint": {"path": f"{DOMAIN}/{name}", "input": inputs},
    }


async def setup_automations(hass: HomeAssistant, *configs: dict[str, Any]) -> None:
    """Set up automations from `configs`; assert each one loaded and is on."""
    assert await async_setup_component(hass, automation.DOMAIN, {automation.DOMAIN: list(configs)})
    await hass.async_block_till_done()
    for config in configs:
        state = hass.states.get(f"automation.{config['id']}")
        assert state is not None, f"{config['id']} was not created"
        assert state.state == "on", f"{config['id']} did not load: {state.attributes}"


@pytest.mark.usefixtures("blueprints_installed")
@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (NOTIFY, {}),
        (NOTIFY, {"when": "sequence_finished", "notify_action": "notify.phone", "title": "Done"}),
        (ALERT, {}),
        (ALERT, {"pause_minutes": 0, "alert_guiding_lost": False}),
        (EQUIPMENT, {}),
        (
            EQUIPMENT,
            {
                "roof": ["cover.roof"],
                "equipment": ["switch.dew_heater"],
                "delay_minutes": 5,
                "when": "session_ended",
            },
        ),
    ],
)
async def test_automation_from_blueprint_validates(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, name: str, inputs: dict[str, Any]
) -> None:
    """Test that automations from the blueprints validate and use only our device triggers."""
    config = use_blueprint(name, "check", nina_device=device_id_of(hass), **inputs)
    validated = await async_validate_config_item(hass, "check", config)
    assert validated is not None
    assert validated.validation_status is automation.config.ValidationStatus.OK, (
        validated.validation_error
    )
    triggers = validated["triggers"]
    assert {trigger["type"] for trigger in triggers} <= {
        "session_ended",
        "state_changed",
        "guiding_lost",
    }
    assert all(trigger["domain"] == DOMAIN for trigger in triggers)


@pytest.mark.usefixtures("blueprints_installed")
@pytest.mark.parametrize(
    ("name", "inputs"),
    [
        (SHUTDOWN, {}),
        (
            SHUTDOWN,
            {
                "shutdown_time": "05:30:00",
                "safety_sensor": "binary_sensor.cloud_sensor_safety",
                "cloud_cover_sensor": "sensor.conditions_cloud_cover",
                "park_button": "button.eq6_park",
                "close_buttons": ["button.roof_close_shutter"],
                "notify_action": "notify.phone",
            },
        ),
        (STARTUP, {}),
        (STARTUP, {"startup_time": "21:00:00", "sequence": "Deep sky LRGB", "cool_minutes": 5}),
    ],
)
async def test_observatory_automation_validates(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, name: str, inputs: dict[str, Any]
) -> None:
    """Test that automations from the shutdown and startup blueprints validate."""
    config = use_blueprint(name, "check", nina_device=device_id_of(hass), **inputs)
    validated = await async_validate_config_item(hass, "check", config)
    assert validated is not None
    assert validated.validation_status is automation.config.ValidationStatus.OK, (
        validated.validation_error
    )


@pytest.mark.usefixtures("blueprints_installed")
async def test_missing_device_input_is_refused(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that an automation from a blueprint without the `nina_device` input is refused."""
    config = use_blueprint(NOTIFY, "broken")
    with pytest.raises(Exception, match="nina_device"):
        await async_validate_config_item(hass, "broken", config)


# -- the blueprints at work ------------------------------------------------------------
@pytest.mark.usefixtures("blueprints_installed")
async def test_summary_when_sequence_finishes(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """The `simple` night (M 42, 3 Ha + 3 OIII of 120 s): one summary at its end."""
    notes = async_mock_service(hass, "notify", "phone")
    await setup_automations(
        hass,
        use_blueprint(
            NOTIFY,
            "summary",
            nina_device=device_id_of(hass),
            when="sequence_finished",
            notify_action="notify.phone",
            title="Night done",
        ),
    )
    await play(sim, engine_of(loaded_entry))
    await wait_for(lambda: len(notes) >= 1, "the summary")
    await hass.async_block_till_done()
    assert len(notes) == 1
    message = notes[0].data["message"]
    assert notes[0].data["title"] == "Night done"
    assert message.startswith("M 42: 6 frames, 0h 12m integration.")
    assert "Ha: 3 frames, 0h 06m" in message
    assert "OIII: 3 frames, 0h 06m" in message
    assert "HFR " in message


@pytest.mark.usefixtures("blueprints_installed")
async def test_summary_when_session_closes(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Default: the summary of the closed session (by its id), not at the sequence end."""
    notes = async_mock_service(hass, "notify", "notify")
    extra = async_mock_service(hass, "test", "after")
    await setup_automations(
        hass,
        use_blueprint(
            NOTIFY,
            "summary",
            nina_device=device_id_of(hass),
            extra_actions=[
                {
                    "action": "test.after",
                    "data": {"seconds": "{{ session.integration_seconds }}"},
                }
            ],
        ),
    )
    engine = engine_of(loaded_entry)
    await play(sim, engine)
    await hass.async_block_till_done()
    assert notes == []  # the sequence finished; the session is still open
    await pass_the_idle_gap(hass, engine)
    await wait_for(lambda: len(notes) >= 1, "the summary")
    await hass.async_block_till_done()
    assert len(notes) == 1
    assert notes[0].data["title"] == "Imaging session ended"
    assert "Ha: 3 frames" in notes[0].data["message"]
    assert [float(call.data["seconds"]) for call in extra] == [720.0]


@pytest.mark.usefixtures("blueprints_installed")
async def test_alert_when_guiding_lost(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Test that the alert blueprint notifies once when guiding is lost past the grace period."""
    alerts = async_mock_service(hass, "notify", "notify")
    await setup_automations(
        hass, use_blueprint(ALERT, "alert", nina_device=device_id_of(hass), pause_minutes=30)
    )
    engine = engine_of(loaded_entry)
    for name in ("SEQUENCE-STARTING", "GUIDER-START", "GUIDER-STOP"):
        await sim.emit(now_event(name))
    await sync_engine(sim, engine)
    assert engine.pipeline is not None
    await engine.tick(dt_util.utcnow() + engine.pipeline.options.grace + timedelta(seconds=1))
    await wait_for(lambda: len(alerts) >= 1, "the guiding alert")
    # (No block_till_done: the pause that GUIDER-STOP began is still waiting its 30 min.)
    assert len(alerts) == 1
    assert alerts[0].data["title"] == "NINA: guiding lost"
    assert alerts[0].data["message"].startswith("Guiding was lost")


@pytest.mark.usefixtures("blueprints_installed")
async def test_alert_only_for_a_long_pause(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """A pause that clears within N minutes sends nothing; one that lasts does."""
    alerts = async_mock_service(hass, "notify", "notify")
    await setup_automations(
        hass,
        use_blueprint(
            ALERT,
            "alert",
            nina_device=device_id_of(hass),
            pause_minutes=10,
            alert_guiding_lost=False,
        ),
    )
    engine = engine_of(loaded_entry)
    await sim.emit(now_event("SEQUENCE-STARTING"))
    await sim.emit(now_event("SAFETY-CHANGED", IsSafe=False))
    await sync_engine(sim, engine)
    await wait_for(
        lambda: hass.states.get("automation.alert").attributes.get("current") == 1,
        "the run that waits for the pause to end",
    )
    await asyncio.sleep(0.1)  # from its start to its wait_for_trigger
    await sim.emit(now_event("SAFETY-CHANGED", IsSafe=True))  # clouds gone soon
    await sync_engine(sim, engine)
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=11))
    await hass.async_block_till_done()
    assert alerts == []

    await sim.emit(now_event("SAFETY-CHANGED", IsSafe=False))  # clouds for good
    await sync_engine(sim, engine)
    await wait_for(
        lambda: hass.states.get("automation.alert").attributes.get("current") == 1,
        "the run that waits for the pause to end",
    )
    await asyncio.sleep(0.1)
    assert alerts == []
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=11))
    await wait_for(lambda: len(alerts) >= 1, "the pause alert")
    await hass.async_block_till_done()
    assert alerts[0].data["title"] == "NINA: session paused"
    assert "paused for 10 minutes (SAFETY-CHANGED)" in alerts[0].data["message"]


@pytest.mark.usefixtures("blueprints_installed")
async def test_roof_and_heaters_off_when_sequence_finishes(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Test that the equipment blueprint closes the roof and turns heaters off at sequence end."""
    assert await async_setup_component(hass, "homeassistant", {})
    assert await async_setup_component(
        hass, "input_boolean", {"input_boolean": {"dew_heater": {"initial": True}}}
    )
    closed: list[ServiceCall] = async_mock_service(hass, "cover", "close_cover")
    await setup_automations(
        hass,
        use_blueprint(
            EQUIPMENT,
            "equipment",
            nina_device=device_id_of(hass),
            roof=["cover.roof"],
            equipment=["input_boolean.dew_heater"],
        ),
    )
    assert hass.states.get("input_boolean.dew_heater").state == "on"
    await play(sim, engine_of(loaded_entry))
    await wait_for(lambda: len(closed) >= 1, "the roof to close")
    await wait_for(lambda: hass.states.get("input_boolean.dew_heater").state == "off", "the heater")
    assert closed[0].data["entity_id"] == ["cover.roof"]


async def equipment_connected(hass: HomeAssistant, sim: Any, entry: MockConfigEntry) -> None:
    """Connect all the simulator's equipment and wait for its entities."""
    await sim.equipment.connect()
    equipment = entry.runtime_data.equipment
    await wait_for(lambda: len(equipment.known_classes) == 11, "the equipment")
    await hass.async_block_till_done()


def equipment_entity(hass: HomeAssistant, platform: str, key: str) -> str:
    """Return the entity id of a rig_1 entity by its unique id."""
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, f"rig_1_{key}")
    assert found is not None, key
    return found


@pytest.mark.usefixtures("blueprints_installed")
@pytest.mark.parametrize("cause", ["unsafe", "weather"])
async def test_shutdown_when_unsafe_or_weather_turns(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry, cause: str
) -> None:
    """Test that the shutdown blueprint stops, parks, warms and closes through NINA."""
    await equipment_connected(hass, sim, loaded_entry)
    await sim.equipment.act("/equipment/mount/unpark")
    await sim.equipment.act("/equipment/dome/open")
    await sim.equipment.act("/sequence/start")
    notes = async_mock_service(hass, "notify", "phone")
    inputs: dict[str, Any] = {
        "stop_sequence_button": equipment_entity(hass, "button", "sequence_stop"),
        "park_button": equipment_entity(hass, "button", "mount_mount_park"),
        "cooler_switch": equipment_entity(hass, "switch", "camera_cooler"),
        "close_buttons": [equipment_entity(hass, "button", "dome_dome_close")],
        "notify_action": "notify.phone",
    }
    if cause == "unsafe":
        inputs["safety_sensor"] = equipment_entity(hass, "binary_sensor", "safetymonitor_safety")
    else:
        inputs["cloud_cover_sensor"] = equipment_entity(hass, "sensor", "weather_cloud_cover")
        inputs["cloud_cover_max"] = 50
    await setup_automations(
        hass, use_blueprint(SHUTDOWN, "shutdown", nina_device=device_id_of(hass), **inputs)
    )
    await sim.equipment.weather_front()  # the sky turns unsafe at once
    if cause == "weather":  # the clouds build up by the next poll
        start = sim.equipment.clock()
        sim.equipment.clock = lambda: start + timedelta(minutes=20)
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await wait_for(lambda: len(notes) >= 1, "the shutdown")
    await hass.async_block_till_done()
    paths = [path for path, _ in sim.equipment.calls]
    assert paths[-4:] == [
        "/sequence/stop",
        "/equipment/mount/park",
        "/equipment/camera/warm",
        "/equipment/dome/close",
    ]
    assert (
        "because the " + ("safety monitor" if cause == "unsafe" else "weather")
        in (notes[0].data["message"])
    )


@pytest.mark.usefixtures("blueprints_installed")
async def test_startup_cools_opens_loads_and_starts(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Test that the startup blueprint cools the camera, opens, loads and starts the sequence."""
    await equipment_connected(hass, sim, loaded_entry)
    registry = er.async_get(hass)
    dome_open = equipment_entity(hass, "button", "dome_dome_open")
    registry.async_update_entity(dome_open, disabled_by=None)  # created disabled: it moves
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    await equipment_connected(hass, sim, loaded_entry)
    await setup_automations(
        hass,
        use_blueprint(
            STARTUP,
            "startup",
            nina_device=device_id_of(hass),
            safety_sensor=equipment_entity(hass, "binary_sensor", "safetymonitor_safety"),
            cooler_set_point=equipment_entity(hass, "number", "camera_cooler_set_point"),
            set_point=-12,
            cool_minutes=0,
            open_buttons=[dome_open],
            sequence="Deep sky LRGB",
            start_sequence_button=equipment_entity(hass, "button", "sequence_start"),
        ),
    )
    await hass.services.async_call(
        automation.DOMAIN,
        "trigger",
        {"entity_id": "automation.startup", "skip_condition": False},
        blocking=True,
    )
    await wait_for(lambda: "SEQUENCE-STARTING" in [e.name for e in sim.emitted], "the start")
    paths = [path for path, _ in sim.equipment.calls]
    assert paths == [
        "/equipment/camera/cool",
        "/equipment/dome/open",
        "/sequence/load",
        "/sequence/start",
    ]
    assert sim.equipment.loaded_sequence == "Deep sky LRGB"
    assert sim.equipment.state.set_point == -12


@pytest.mark.usefixtures("blueprints_installed")
async def test_night_report_in_the_morning(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """The morning blueprint sends the last night's report text with its picture attached."""
    notes = async_mock_service(hass, "notify", "phone")
    send_at = dt_util.now() + timedelta(minutes=5)
    await setup_automations(
        hass,
        use_blueprint(
            REPORT,
            "morning",
            nina_device=device_id_of(hass),
            send_at=send_at.strftime("%H:%M:%S"),
            notify_action="notify.phone",
        ),
    )
    engine = engine_of(loaded_entry)
    await play(sim, engine)
    await pass_the_idle_gap(hass, engine)
    image = "image.rig_1_night_report"
    await wait_for(lambda: hass.states.get(image).state != "unavailable", "the report picture")
    async_fire_time_changed(hass, send_at + timedelta(seconds=1))
    await wait_for(lambda: len(notes) >= 1, "the morning report")
    await hass.async_block_till_done()
    assert len(notes) == 1
    assert notes[0].data["title"] == "Last night"
    assert notes[0].data["message"].startswith("0.2 h, stopped: sequence finished. M 42")
    assert notes[0].data["data"] == {"image": f"/api/image_proxy/{image}"}
