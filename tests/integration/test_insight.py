"""Targets, goals, the night report and its picture, quality and the night end, in HA.

Each test plays the `simple` night (M 42: 3 Ha + 3 OIII lights of 120 s) over the simulator's
real socket, then reads what the actions, WebSocket commands, view, sensors and image answer.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from api_helpers import engine_of, play
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from integration_helpers import pass_the_idle_gap, wait_for
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator, WebSocketGenerator

from custom_components.nina_session.const import DOMAIN
from custom_components.nina_session.engine.timeutil import iso_z, night_of
from custom_components.nina_session.engine.twilight import dawn, target_end_of
from custom_components.nina_session.insight import EVENT_NIGHT_REPORT
from simulator import PRESETS, generate_night
from tests.engine.png_reader import read_png

REPORT_IMAGE = "image.rig_1_night_report"
TARGET_HOURS = "sensor.rig_1_target_integration"
GOAL = "sensor.rig_1_target_goal_progress"
NIGHT_END = "sensor.rig_1_night_end"


async def finished_night(hass: HomeAssistant, sim: Any, entry: MockConfigEntry) -> None:
    """Play the simple night and let the idle clock close its session."""
    engine = engine_of(entry)
    await play(sim, engine)
    await pass_the_idle_gap(hass, engine)


async def test_night_report_event_picture_and_action(
    hass: HomeAssistant,
    sim: Any,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    """Test that a closed night fires its report, draws its picture and answers the action."""
    reports = async_capture_events(hass, EVENT_NIGHT_REPORT)
    assert hass.states.get(REPORT_IMAGE).state == "unavailable"  # no night yet
    await finished_night(hass, sim, loaded_entry)
    await wait_for(lambda: len(reports) == 1, "the night report")
    await hass.async_block_till_done()

    event = reports[0].data
    assert event["entry_id"] == loaded_entry.entry_id
    assert event["integration_seconds"] == 720.0
    (target,) = event["targets"]
    assert target["name"] == "M 42"
    assert {f: s["seconds"] for f, s in target["by_filter"].items()} == {"Ha": 360.0, "OIII": 360.0}
    assert event["stopped"]["reason"] == "sequence_finished"
    assert "series" not in event["quality"]  # the bus keeps it small
    assert event["message"].startswith("0.2 h, stopped: sequence finished. M 42: Ha 6 min")

    state = hass.states.get(REPORT_IMAGE)
    assert state.state != "unavailable"
    assert state.attributes["session_id"] == event["session_id"]
    client = await hass_client()
    response = await client.get(f"/api/image_proxy/{REPORT_IMAGE}")
    assert response.status == 200
    assert response.content_type == "image/png"
    body = await response.read()
    assert body.startswith(b"\x89PNG\r\n\x1a\n")  # a phone's notification can attach it
    picture = read_png(body)
    assert (picture.width, picture.height) == (800, 480)

    answer = await hass.services.async_call(
        DOMAIN, "get_night_report", {}, blocking=True, return_response=True
    )
    assert answer["session_id"] == event["session_id"]
    assert len(answer["quality"]["series"]) == 6
    assert answer["timeline"] == event["timeline"]


async def test_the_report_survives_a_restart(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Test that after a reload the picture shows the same night, rebuilt from the store."""
    await finished_night(hass, sim, loaded_entry)
    await wait_for(lambda: hass.states.get(REPORT_IMAGE).state != "unavailable", "the picture")
    before = hass.states.get(REPORT_IMAGE).attributes["session_id"]
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED
    await wait_for(
        lambda: hass.states.get(REPORT_IMAGE).state not in ("unavailable", "unknown"),
        "the picture after the restart",
    )
    assert hass.states.get(REPORT_IMAGE).attributes["session_id"] == before


async def test_a_night_closed_by_the_backfill_gets_its_report(
    hass: HomeAssistant, sim: Any, setup_entry: Any
) -> None:
    """Test that a night the backfill closes (the next night's events came with it) is drawn.

    Only a live "session ended" drew the report, so a night that ended while Home Assistant
    was away, followed by tonight's first events, had no picture until the next restart.
    """
    earlier = generate_night(replace(PRESETS["simple"], date=date.today() - timedelta(days=3)))
    await sim.play(earlier, 0, rebase=False)
    tonight = generate_night(PRESETS["simple"])
    await sim.play(tonight.events[:5], 0)
    entry = await setup_entry()
    await wait_for(
        lambda: hass.states.get(REPORT_IMAGE).state not in ("unavailable", "unknown"),
        "the picture of the backfilled night",
    )
    state = hass.states.get(REPORT_IMAGE)
    tz = engine_of(entry).config.options.tz
    assert state.attributes["night"] == night_of(earlier.start, tz)
    answer = await hass.services.async_call(
        DOMAIN, "get_night_report", {}, blocking=True, return_response=True
    )
    assert answer["session_id"] == state.attributes["session_id"]
    stored = await engine_of(entry).read_store(lambda store: store.sessions(limit=5))
    assert [s["id"] for s in stored if s["end"]] == [answer["session_id"]]


async def test_targets_action_websocket_and_view(
    hass: HomeAssistant,
    sim: Any,
    loaded_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
) -> None:
    """Test the targets answer: the action, the WebSocket command and the view agree."""
    await play(sim, engine_of(loaded_entry))
    answer = await hass.services.async_call(
        DOMAIN, "get_targets", {}, blocking=True, return_response=True
    )
    (target,) = answer["targets"]
    assert (target["name"], target["frames"], target["integration_seconds"]) == ("M 42", 6, 720.0)
    assert target["nights"] == 1 and target["first_night"] == target["last_night"]
    assert {
        f: (s["frames"], s["seconds"], s["nights"]) for f, s in target["by_filter"].items()
    } == {
        "Ha": (3, 360.0, 1),
        "OIII": (3, 360.0, 1),
    }
    tomorrow = (dt_util.now() + timedelta(days=2)).date().isoformat()
    later = await hass.services.async_call(
        DOMAIN, "get_targets", {"start": tomorrow}, blocking=True, return_response=True
    )
    assert later == {"targets": []}

    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": f"{DOMAIN}/targets"})
    message = await ws.receive_json()
    assert message["success"] and message["result"] == answer
    client = await hass_client()
    response = await client.get(f"/api/{DOMAIN}/targets")
    assert response.status == 200
    assert await response.json() == answer


async def test_goals_and_progress_sensors(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Test that a goal set by the action shows in the answer and the progress sensors."""
    await play(sim, engine_of(loaded_entry))
    await wait_for(lambda: hass.states.get(TARGET_HOURS).state == "0.2", "the target's hours")
    assert hass.states.get(TARGET_HOURS).attributes["name"] == "M 42"
    current = hass.states.get("sensor.rig_1_current_filter").state
    await hass.services.async_call(
        DOMAIN, "set_target_goal", {"target": "M 42", "filter": current, "hours": 1}, blocking=True
    )
    await wait_for(lambda: hass.states.get(GOAL).state == "10.0", "the goal progress")
    attributes = hass.states.get(GOAL).attributes
    assert (attributes["goal_seconds"], attributes["remaining_seconds"]) == (3600.0, 3240.0)
    assert attributes["nights_to_goal"] == 9
    answer = await hass.services.async_call(
        DOMAIN, "get_targets", {}, blocking=True, return_response=True
    )
    assert answer["targets"][0]["goals"][current]["progress"] == 0.1
    await hass.services.async_call(
        DOMAIN, "set_target_goal", {"target": "M 42", "filter": current, "hours": 0}, blocking=True
    )
    await wait_for(lambda: hass.states.get(GOAL).state == "unknown", "the goal removed")


async def test_quality_frame_by_frame(
    hass: HomeAssistant,
    sim: Any,
    loaded_entry: MockConfigEntry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    """Test the quality command: each light with its readings, and the frames to reject."""
    await play(sim, engine_of(loaded_entry))
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": f"{DOMAIN}/quality", "rms_limit": 0.0})
    message = await ws.receive_json()
    assert message["success"], message
    result = message["result"]
    assert [row["filter"] for row in result["frames"]] == ["Ha"] * 3 + ["OIII"] * 3
    for row in result["frames"]:
        assert row["hfr"] > 0 and row["stars"] > 0 and row["adu_mean"] > 0
        assert row["temperature"] is not None and row["guiding_rms"] > 0
        assert "rms_high" in row["flags"]  # every guided frame is above a limit of 0
    assert result["rejected"]["count"] == 6
    assert result["autofocus"]["result"] == "ok" and result["autofocus"]["points"]
    await ws.send_json({"id": 2, "type": f"{DOMAIN}/quality", "session_id": "nope"})
    message = await ws.receive_json()
    assert not message["success"]


async def test_night_end_is_dawn_at_home(hass: HomeAssistant, sim: Any, setup_entry: Any) -> None:
    """Test that the night end sensor shows astronomical dawn at HA's location."""
    hass.config.latitude, hass.config.longitude = 52.52, 13.405
    entry = await setup_entry()
    await play(sim, engine_of(entry))
    session = engine_of(entry).current_session()
    assert session is not None
    start = dt_util.parse_datetime(session["start"])
    assert start is not None
    night = date.fromisoformat(night_of(start, engine_of(entry).config.options.tz))
    expected = dawn(night + timedelta(days=1), 52.52, 13.405)
    assert expected is not None
    await wait_for(lambda: hass.states.get(NIGHT_END).state != "unknown", "the night end")
    state = hass.states.get(NIGHT_END)
    assert dt_util.parse_datetime(state.state) == expected.replace(microsecond=0)
    assert state.attributes["source"] == "astronomical_dawn"


@pytest.mark.parametrize("service", ["get_targets", "get_night_report"])
async def test_actions_without_an_entry_are_refused(hass: HomeAssistant, service: str) -> None:
    """Test that the actions answer a translated error when no entry is loaded."""
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(HomeAssistantError):
        await hass.services.async_call(DOMAIN, service, {}, blocking=True, return_response=True)


async def test_night_end_tells_the_target_end_and_a_wait(
    hass: HomeAssistant, sim: Any, loaded_entry: MockConfigEntry
) -> None:
    """Test that during a scheduler wait the night end says when the wait and target end."""
    events = generate_night(PRESETS["target_scheduler"]).events
    wait = next(i for i, e in enumerate(events) if e.name == "TS-WAITSTART")
    engine = engine_of(loaded_entry)
    await play(sim, engine, events[: wait + 1])

    def shown() -> bool:
        return hass.states.get(NIGHT_END).attributes.get("wait_until") is not None

    await wait_for(shown, "the wait's end")
    attributes = hass.states.get(NIGHT_END).attributes
    # The simulator moves the night to today: compare with what NINA sent, as stored.
    session_id = engine.current_session()["id"]
    stored = await engine.read_store(
        lambda store: store.session_events(session_id, ("TS-WAITSTART", "TS-TARGETSTART"))
    )
    wait_event = stored[-1]
    target = [e for e in stored if e.name == "TS-TARGETSTART"][-1]
    wait_until = dt_util.parse_datetime(wait_event.data["WaitEndTime"])
    assert attributes["wait_until"] == iso_z(wait_until)
    assert attributes["target_end"] == iso_z(target_end_of(target.data))
    assert attributes["target_end"] is not None
    assert attributes["source"] == "astronomical_dawn"
