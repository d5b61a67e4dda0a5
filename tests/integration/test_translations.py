"""strings.json, translations/en.json and icons.json cover everything the code names."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from custom_components.nina_session.binary_sensor import BINARY_SENSORS
from custom_components.nina_session.const import (
    EVENT_TYPES,
    ISSUE_DATABASE_UNAVAILABLE,
    ISSUE_UNREACHABLE,
    ISSUE_UNSUPPORTED_VERSION,
)
from custom_components.nina_session.engine.fsm import SessionState
from custom_components.nina_session.event import SESSION_EVENT
from custom_components.nina_session.image import LATEST_FRAME
from custom_components.nina_session.sensor import SENSORS

ROOT = Path(__file__).parents[2] / "custom_components" / "nina_session"


def load(name: str) -> Any:
    """Return the parsed JSON file `name` of the integration."""
    return json.loads((ROOT / name).read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    """Return the placeholder names in a translated string."""
    return set(re.findall(r"{(\w+)}", text))


def test_english_translation_is_strings_json() -> None:
    """Test that translations/en.json is identical to strings.json."""
    assert load("translations/en.json") == load("strings.json")


def test_every_entity_has_a_name_and_an_icon() -> None:
    """Test that every entity, its states and event types have names and icons."""
    strings = load("strings.json")["entity"]
    icons = load("icons.json")["entity"]
    platforms: dict[str, list[str | None]] = {
        "sensor": [d.translation_key for d in SENSORS],
        "binary_sensor": [d.translation_key for d in BINARY_SENSORS],
        "event": [SESSION_EVENT.translation_key],
        "image": [LATEST_FRAME.translation_key],
    }
    for platform, keys in platforms.items():
        for key in keys:
            assert key is not None
            assert strings[platform][key]["name"], (platform, key)
            assert icons[platform][key]["default"].startswith("mdi:"), (platform, key)
    states = {state.value for state in SessionState}
    assert set(strings["sensor"]["session_state"]["state"]) == states
    assert set(icons["sensor"]["session_state"]["state"]) == states
    event_states = strings["event"]["session_event"]["state_attributes"]["event_type"]["state"]
    assert set(event_states) == set(EVENT_TYPES)
    event_icons = icons["event"]["session_event"]["state_attributes"]["event_type"]["state"]
    assert set(event_icons) == set(EVENT_TYPES)


def test_flow_errors_issues_and_exceptions_are_translated() -> None:
    """Test that flow errors, aborts, issues and exceptions are translated with placeholders."""
    strings = load("strings.json")
    errors = strings["config"]["error"]
    for key in ("cannot_connect", "invalid_host", "not_nina", "unsupported_version", "unknown"):
        assert errors[key]
    assert strings["config"]["abort"]["already_configured"]
    assert strings["config"]["abort"]["reconfigure_successful"]
    assert strings["options"]["error"]["invalid_timezone"]
    issues = strings["issues"]
    assert placeholders(issues[ISSUE_UNREACHABLE]["description"]) <= {
        "name",
        "host",
        "port",
        "error",
    }
    assert placeholders(issues[ISSUE_UNSUPPORTED_VERSION]["description"]) == {
        "version",
        "minimum",
    }
    assert placeholders(issues[ISSUE_DATABASE_UNAVAILABLE]["description"]) == {"path", "error"}
    for key in ("database_unavailable", "invalid_connection"):
        assert placeholders(strings["exceptions"][key]["message"]) == {"error"}


def test_every_form_field_is_labelled() -> None:
    """Test that every config and options form field has a label and a description."""
    strings = load("strings.json")
    connection = {"host", "port", "tls", "verify_tls", "name"}
    for step in ("user", "reconfigure"):
        assert set(strings["config"]["step"][step]["data"]) == connection
        assert set(strings["config"]["step"][step]["data_description"]) == connection
    options = strings["options"]["step"]["init"]
    assert set(options["data"]) == set(options["data_description"])
    assert set(options["data"]) == {
        "retention_days",
        "idle_gap_minutes",
        "dedup_window_seconds",
        "backfill_on_connect",
        "nina_timezone",
        "debug_recording",
    }
