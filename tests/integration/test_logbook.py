"""Logbook: the trigger events of a night, described on the NINA device's logbook."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
import json
import logging
from pathlib import Path
from typing import Any

from api_helpers import engine_of, now_event, play
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from integration_helpers import (
    coordinator_of,
    pass_the_idle_gap,
    play_live,
    wait_connected,
    wait_for,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_capture_events
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.nina_session import logbook as logbook_platform
from custom_components.nina_session.cause_words import (
    cause_keys,
    cause_words,
    translated_cause_words,
)
from custom_components.nina_session.const import DOMAIN, EVENT_BACKFILLED
from custom_components.nina_session.device_trigger import (
    EVENT_NINA_SESSION_MOMENT,
    EVENT_NINA_SESSION_TRIGGER,
)
from custom_components.nina_session.engine.engine import NinaEngine
from custom_components.nina_session.logbook import (
    async_describe_events,
    describe_backfill,
    describe_trigger,
    entity_row_names_moments,
)
from simulator import NinaSimulator, preset_night

STRINGS = Path(__file__).parents[2] / "custom_components" / "nina_session" / "strings.json"
#: The cause words as strings.json has them (the one place they are written).
CAUSE_WORDS: dict[str, str] = json.loads(STRINGS.read_text(encoding="utf-8"))["entity"]["sensor"][
    "session_state"
]["state_attributes"]["cause"]["state"]

#: Entities whose state moves with every frame: their "changed to" rows would repeat ours.
PER_FRAME_ENTITIES = frozenset({"image.rig_1_latest_frame", "sensor.rig_1_last_image_saved"})
TARGET_AND_FILTER = frozenset({"sensor.rig_1_current_target", "sensor.rig_1_current_filter"})


# The recorder must come before `hass`: override the harness's autouse fixtures that use it.
@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Any, enable_custom_integrations: None) -> None:
    """Set up the recorder first, then enable our custom integration."""


@pytest.fixture(autouse=True)
def config_dir(recorder_mock: Any, hass: HomeAssistant, tmp_path: Path) -> Path:
    """Put each test's databases in its own temporary config dir, after the recorder."""
    hass.config.config_dir = str(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("kind", "data", "message"),
    [
        ("session_started", {"session_id": "S1"}, "started session S1"),
        (
            "session_ended",
            {"session_id": "S1", "frames": 52, "integration_seconds": 12000.0},
            "ended session S1: 52 frames, 3.3 h integration",
        ),
        ("session_ended", {"session_id": "S1", "frames": None}, "ended session S1"),
        (
            "state_changed",
            {"previous": "imaging", "state": "paused", "cause": "SAFETY-CHANGED"},
            "changed from imaging to paused (sky unsafe)",
        ),
        (
            "state_changed",
            {"previous": "imaging", "state": "darks", "cause": "IMAGE-SAVE"},
            "changed from imaging to darks (first dark frame)",
        ),
        (
            "state_changed",
            {"previous": "paused", "state": "imaging", "cause": "MOUNT-AFTER-FLIP"},
            "changed from paused to imaging (after the meridian flip)",
        ),
        (
            "state_changed",
            {
                "previous": "imaging",
                "state": "paused",
                "cause": "GUIDER-STOP",
                "reason": "guiding_lost",
            },
            "changed from imaging to paused (guiding lost)",
        ),
        (  # a code with no words yet still reads as words
            "state_changed",
            {"previous": "idle", "state": "imaging", "cause": "STACK-UPDATED"},
            "changed from idle to imaging (stack updated)",
        ),
        ("state_changed", {"previous": "paused", "state": "idle"}, "changed from paused to idle"),
        (
            "image_saved",
            {"image_type": "LIGHT", "target": "M 31", "filter": "Ha", "exposure": 300.0},
            "saved a LIGHT frame of M 31 (Ha, 300 s)",
        ),
        ("image_saved", {"image_type": "FLAT", "filter": "none"}, "saved a FLAT frame"),
        ("guiding_lost", {}, "lost guiding"),
        ("meridian_flip", {}, "finished a meridian flip"),
        ("error", {"error": "ERROR-AF"}, "reported an error (ERROR-AF)"),
    ],
)
def test_messages(kind: str, data: dict[str, Any], message: str) -> None:
    """Test the logbook message of each trigger type, with and without optional data."""
    assert describe_trigger(kind, data, CAUSE_WORDS) == message


#: Causes with their keys and words, shared with the card's test (tests/card).
CAUSE_CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parents[1] / "card" / "cause_cases.json").read_text(encoding="utf-8")
)


@pytest.mark.parametrize("case", CAUSE_CASES, ids=lambda case: str(case["keys"][0]))
def test_cause_keys_and_words_as_the_card_has_them(case: dict[str, Any]) -> None:
    """Test the rule the card shares: `<cause>_<reason>`, then `<cause>_<state>`, `<cause>`."""
    assert cause_keys(case["cause"], case["state"], case["reason"]) == case["keys"]
    assert cause_words(CAUSE_WORDS, case["cause"], case["state"], case["reason"]) == case["words"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"events": 12345, "by_type": {"IMAGE-SAVE": 1200, "GUIDER-DITHER": 300}},
            "caught up on 12,345 events from NINA's history (1,200 frames)",
        ),
        (
            {"events": 1, "by_type": {"IMAGE-SAVE": 1}},
            "caught up on 1 event from NINA's history (1 frame)",
        ),
        (
            {"events": 3, "by_type": {"MOUNT-PARKED": 3}},
            "caught up on 3 events from NINA's history",
        ),
        ({"events": "x", "by_type": None}, "caught up on 0 events from NINA's history"),
    ],
)
def test_backfill_message(data: dict[str, Any], message: str) -> None:
    """Test the row of a history merge: how many events HA missed, and how many frames."""
    assert describe_backfill(data) == message


async def test_cause_words_come_from_the_translations(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that the logbook says a cause in strings.json's words, as Home Assistant loaded them.

    Every cause key of strings.json is said in its own words, so a new cause is one line there
    (the card reads the same keys through `hass.localize`).
    """
    assert len(CAUSE_WORDS) >= 20
    assert translated_cause_words(hass) == CAUSE_WORDS
    described: dict[str, Callable[[Any], dict[str, Any]]] = {}
    async_describe_events(
        hass, lambda _domain, event_type, describe: described.update({event_type: describe})
    )
    for key, words in CAUSE_WORDS.items():

        class Row:
            data = {
                "instance": "rig_1",
                "type": "state_changed",
                "data": {"previous": "idle", "state": "waiting", "cause": key.upper()},
            }

        message = described[EVENT_NINA_SESSION_TRIGGER](Row())["message"]
        assert message.endswith(f"({words})"), (key, message)


def test_moments_are_described_until_the_entity_row_names_them() -> None:
    """Test that our moment rows stay while HA prints the event entity's row without a type."""
    assert not entity_row_names_moments((2025, 4))
    assert not entity_row_names_moments((2026, 7))
    assert entity_row_names_moments((2026, 8))
    assert entity_row_names_moments((2027, 1))


@pytest.mark.parametrize(("version", "moments"), [((2025, 4), True), ((2026, 12), False)])
async def test_moment_rows_by_release(
    hass: HomeAssistant, version: tuple[int, int], moments: bool
) -> None:
    """Test that frames are always ours, moments only where the entity's row cannot say them."""
    registered: list[str] = []
    async_describe_events(
        hass, lambda _domain, event_type, _describe: registered.append(event_type), version=version
    )
    assert registered == [EVENT_NINA_SESSION_TRIGGER, EVENT_BACKFILLED] + (
        [EVENT_NINA_SESSION_MOMENT] * moments
    )


async def test_describer_uses_the_device_name(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Test that the describer names the device, or the instance when there is no device."""
    described: dict[str, Callable[[Any], dict[str, Any]]] = {}

    def register(domain: str, event_type: str, describe: Callable[[Any], dict[str, Any]]) -> None:
        assert domain == DOMAIN
        described[event_type] = describe

    async_describe_events(hass, register, version=(2025, 4))
    describe = described[EVENT_NINA_SESSION_MOMENT]
    assert described[EVENT_NINA_SESSION_TRIGGER] is describe
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "rig_1")})
    assert device is not None

    class Row:
        data = {"device_id": device.id, "instance": "rig_1", "type": "guiding_lost", "data": {}}

    assert describe(Row()) == {
        "name": "Rig 1",
        "message": "lost guiding",
        "icon": "mdi:crosshairs-question",
    }
    Row.data = {"instance": "rig_1", "type": "meridian_flip", "data": None}
    assert describe(Row())["name"] == "rig_1"
    # A state change takes the icon of the state it entered.
    Row.data = {"instance": "rig_1", "type": "state_changed", "data": {"state": "flats"}}
    assert describe(Row())["icon"] == "mdi:lightbulb-on-outline"


async def _played_night(
    hass: HomeAssistant,
    sim: NinaSimulator,
    setup_entry: Callable[..., Awaitable[MockConfigEntry]],
) -> tuple[MockConfigEntry, NinaEngine, dr.DeviceEntry, datetime]:
    """Play a night through a new entry with the logbook loaded, until the session ends.

    Returns the entry, its engine, its device and a time before the night (for queries).
    """
    assert await async_setup_component(hass, "logbook", {})
    start = dt_util.utcnow() - timedelta(minutes=1)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    engine = engine_of(entry)
    await play(sim, engine)
    await pass_the_idle_gap(hass, engine)
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "rig_1")})
    assert device is not None
    return entry, engine, device, start


async def _our_device_rows(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    device: dr.DeviceEntry,
    start: datetime,
) -> list[dict[str, Any]]:
    """Return our rows of the device's logbook from `start` until now."""
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {
            "type": "logbook/get_events",
            "start_time": start.isoformat(),
            "end_time": (dt_util.utcnow() + timedelta(minutes=1)).isoformat(),
            "device_ids": [device.id],
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    return [row for row in response["result"] if row.get("domain") == DOMAIN]


async def test_device_logbook_tells_the_night(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    setup_entry: Callable[..., Awaitable[MockConfigEntry]],
) -> None:
    """Test that the device logbook tells a night from session start to end, frames included."""
    entry, engine, device, start = await _played_night(hass, sim, setup_entry)

    ours = await _our_device_rows(hass, hass_ws_client, device, start)
    messages = [row["message"] for row in ours]
    assert {row["name"] for row in ours} == {"Rig 1"}

    session = (await engine.sessions(limit=1))[0]
    assert messages[0] == f"started session {session['id']}"
    # State changes are the state sensor's rows, not ours (test below).
    assert not any(message.startswith("changed from") for message in messages)
    assert all(row.get("icon", "").startswith("mdi:") for row in ours)
    assert "saved a LIGHT frame of M 42 (Ha, 120 s)" in messages
    assert sum(message.startswith("saved a LIGHT frame") for message in messages) == 6
    assert messages[-1] == f"ended session {session['id']}: 6 frames, 0.2 h integration"
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_device_logbook_tells_a_backfill(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    setup_entry: Callable[..., Awaitable[MockConfigEntry]],
) -> None:
    """Test that a night HA missed (read from history) is one row on the device's logbook."""
    assert await async_setup_component(hass, "logbook", {})
    night = preset_night("simple")
    await sim.play(night.events, speed=0, rebase=False)  # at its own dates, days ago
    start = dt_util.utcnow() - timedelta(minutes=1)
    backfilled = async_capture_events(hass, EVENT_BACKFILLED)
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await wait_for(lambda: bool(backfilled), "the backfill")
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)
    device = coordinator_of(entry).device_entry()
    assert device is not None

    ours = await _our_device_rows(hass, hass_ws_client, device, start)
    frames = sum(event.name == "IMAGE-SAVE" for event in night.events)
    assert [(row["name"], row["message"], row["icon"]) for row in ours] == [
        (
            "Rig 1",
            f"caught up on {len(night.events)} events from NINA's history ({frames} frames)",
            "mdi:history",
        )
    ]
    assert await hass.config_entries.async_unload(entry.entry_id)


def test_recorder_sql_stays_out_of_the_test_output() -> None:
    """Test that the harness's INFO level for SQLAlchemy is lowered (SQL flooded `make test`)."""
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() >= logging.WARNING


async def _device_rows(
    client: Any, start: datetime, entity_ids: list[str], device_id: str
) -> list[dict[str, Any]]:
    """Return the device page's logbook: its entities and the device, as the frontend asks."""
    await client.send_json_auto_id(
        {
            "type": "logbook/get_events",
            "start_time": start.isoformat(),
            "end_time": (dt_util.utcnow() + timedelta(minutes=1)).isoformat(),
            "entity_ids": entity_ids,
            "device_ids": [device_id],
        }
    )
    response = await client.receive_json()
    assert response["success"], response
    rows: list[dict[str, Any]] = response["result"]
    return rows


def _source(row: Mapping[str, Any]) -> str:
    """Who made a logbook row: an entity id, or our describer."""
    return str(row.get("entity_id") or row.get("domain"))


async def test_one_row_per_frame_and_per_state_change(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    setup_entry: Callable[..., Awaitable[MockConfigEntry]],
) -> None:
    """Test the device logbook of a live night: one row per frame, one per state change.

    The night is played one NINA event at a time (as a rig sends them), with a pause for an
    unsafe sky in the middle; each event's logbook rows are told apart by their time.
    """
    assert await async_setup_component(hass, "logbook", {})
    entry = await setup_entry()
    await wait_connected(hass, entry)
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "rig_1")})
    assert device is not None
    entity_ids = [
        item.entity_id for item in er.async_entries_for_device(er.async_get(hass), device.id)
    ]
    night = preset_night("simple").events
    third_frame = [i for i, ev in enumerate(night) if ev.name == "IMAGE-SAVE"][2]
    night[third_frame + 1 : third_frame + 1] = [
        now_event("SAFETY-CHANGED", IsSafe=False),
        now_event("SAFETY-CHANGED", IsSafe=True),
    ]
    state_sensor = "sensor.rig_1_session_state"
    changes = async_capture_events(hass, EVENT_STATE_CHANGED)

    def state_changes() -> int:
        return sum(
            event.data["entity_id"] == state_sensor
            and event.data["old_state"] is not None
            and event.data["new_state"].state != event.data["old_state"].state
            for event in changes
        )

    start = dt_util.utcnow()
    windows: list[tuple[str, float, float, int]] = []
    for event in night:
        before, changed = dt_util.utcnow().timestamp(), state_changes()
        await play_live(hass, entry, sim, [event])
        await hass.async_block_till_done()  # the thumbnail fetch a frame starts
        windows.append(
            (event.name, before, dt_util.utcnow().timestamp(), state_changes() - changed)
        )
    await pass_the_idle_gap(hass, coordinator_of(entry).engine)
    await hass.async_block_till_done()
    await async_wait_recording_done(hass)

    rows = await _device_rows(await hass_ws_client(hass), start, entity_ids, device.id)

    def rows_of(name: str) -> list[list[dict[str, Any]]]:
        return [
            [row for row in rows if first <= row["when"] < last]
            for event, first, last, _ in windows
            if event == name
        ]

    # A frame (rendered, then saved): our row, in words; the target and filter sensors tell
    # their own changes.
    frames = [event for event in night if event.name == "IMAGE-SAVE"]
    per_frame = [
        [row for row in rendered + saved if _source(row) not in TARGET_AND_FILTER]
        for rendered, saved in zip(rows_of("IMAGE-PREPARED"), rows_of("IMAGE-SAVE"), strict=True)
    ]
    assert [len(window) for window in per_frame] == [1] * len(frames), per_frame
    assert all(
        window[0]["domain"] == DOMAIN and window[0]["message"].startswith("saved a LIGHT frame")
        for window in per_frame
    )

    # A state change: one row, the state sensor's (ours would say it again).
    moved = [(first, last, count) for _, first, last, count in windows if count]
    assert sum(count for _, _, count in moved) == 4  # idle→imaging→paused→imaging→idle
    for first, last, count in moved:
        told = [
            row
            for row in rows
            if first <= row["when"] < last
            and (_source(row) == state_sensor or row.get("message", "").startswith("changed from"))
        ]
        assert len(told) == count, told
    assert not any(row.get("message", "").startswith("changed from") for row in rows)

    # The event entity tells only the rare moments: the session's start and end, autofocus.
    event_rows = [row for row in rows if _source(row) == "event.rig_1_session_event"]
    assert len(event_rows) == 4
    assert not [row for row in rows if _source(row) in PER_FRAME_ENTITIES]
    assert await hass.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(("release", "ours"), [((2025, 4), True), ((2026, 8), False)])
async def test_one_row_per_moment_where_the_entity_row_names_it(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    sim: NinaSimulator,
    setup_entry: Callable[..., Awaitable[MockConfigEntry]],
    monkeypatch: pytest.MonkeyPatch,
    release: tuple[int, int],
    ours: bool,
) -> None:
    """Test the device page's rows of a session's start and end on two releases.

    The Session event entity's row is there on both; ours beside it only where Home
    Assistant prints that row as "detected an event". Frames are ours on both.
    """
    monkeypatch.setattr(logbook_platform, "HA_RELEASE", release)
    entry, engine, device, start = await _played_night(hass, sim, setup_entry)
    entity_ids = [
        item.entity_id for item in er.async_entries_for_device(er.async_get(hass), device.id)
    ]

    rows = await _device_rows(await hass_ws_client(hass), start, entity_ids, device.id)
    entity_rows = [row for row in rows if _source(row) == "event.rig_1_session_event"]
    described = [row["message"] for row in rows if row.get("domain") == DOMAIN]
    moments = [message for message in described if not message.startswith("saved a")]
    session = (await engine.sessions(limit=1))[0]
    assert len(entity_rows) >= 2  # start, end (and the autofocus runs)
    if ours:
        assert moments == [
            f"started session {session['id']}",
            f"ended session {session['id']}: 6 frames, 0.2 h integration",
        ]
    else:
        assert moments == []
    assert sum(message.startswith("saved a LIGHT frame") for message in described) == 6
    assert await hass.config_entries.async_unload(entry.entry_id)
