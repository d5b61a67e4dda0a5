"""tools.validate: hassfest-style checks on small integration folders written to tmp_path."""

from __future__ import annotations

from collections.abc import Callable
import copy
import json
from pathlib import Path
import textwrap
from typing import Any

import pytest

from tools import validate
from tools.validate import HomeAssistantInfo, Report

MANIFEST: dict[str, Any] = {
    "domain": "demo",
    "name": "Demo",
    "codeowners": ["@someone"],
    "config_flow": True,
    "dependencies": ["http"],
    "documentation": "https://example.org/demo",
    "integration_type": "hub",
    "iot_class": "local_push",
    "requirements": [],
    "version": "0.1.0",
}

STRINGS: dict[str, Any] = {
    "config": {
        "step": {
            "user": {
                "title": "Connect",
                "description": "Connect to {host_hint}",
                "data": {"host": "Host"},
                "data_description": {"host": "Host name"},
            }
        },
        "error": {"cannot_connect": "Cannot connect", "unknown": "Unknown error"},
        "abort": {"already_configured": "Already configured"},
    },
    "entity": {
        "sensor": {
            "state": {"name": "State", "state": {"idle": "Idle", "busy": "Busy"}},
            "frames": {"name": "Frames"},
        }
    },
    "device_automation": {"trigger_type": {"session_started": "Session started"}},
    "exceptions": {"not_found": {"message": "No entry {entry_id}"}},
    "issues": {"unreachable": {"title": "{name} unreachable", "description": "Check {host}"}},
    "services": {
        "refresh": {
            "name": "Refresh",
            "description": "Refresh now",
            "fields": {"entry_id": {"name": "Entry", "description": "Which one"}},
        }
    },
}

ICONS: dict[str, Any] = {
    "entity": {"sensor": {"state": {"default": "mdi:telescope", "state": {"busy": "mdi:run"}}}},
    "services": {"refresh": {"service": "mdi:refresh"}},
}

CONFIG_FLOW = """
from homeassistant.config_entries import ConfigFlow

from .const import DOMAIN


async def probe(host):
    if not host:
        return "cannot_connect"
    return None


class DemoFlow(ConfigFlow, domain=DOMAIN):
    async def async_step_user(self, user_input=None):
        errors = {}
        if user_input is not None:
            await self.async_set_unique_id(user_input["host"])
            self._abort_if_unique_id_configured()
            if (error := await probe(user_input["host"])) is None:
                return self.async_create_entry(title="x", data=user_input)
            errors["base"] = error
        try:
            pass
        except Exception:
            errors["base"] = "unknown"
        return self.async_show_form(
            step_id="user", errors=errors, description_placeholders={"host_hint": "nina"}
        )
"""

CONST = """
from enum import StrEnum
from typing import Final

DOMAIN: Final = "demo"
SERVICE_REFRESH: Final = "refresh"
ISSUE_UNREACHABLE: Final = "unreachable"


class State(StrEnum):
    IDLE = "idle"
    BUSY = "busy"
"""

SENSOR = """
from homeassistant.components.sensor import SensorDeviceClass, SensorEntityDescription

from .const import State

DESCRIPTIONS = (
    SensorEntityDescription(
        key="state",
        translation_key="state",
        device_class=SensorDeviceClass.ENUM,
        options=[s.value for s in State],
    ),
    SensorEntityDescription(key="frames", translation_key="frames"),
)
"""

SERVICES = """
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN, ISSUE_UNREACHABLE, SERVICE_REFRESH


def _invalid(key, **placeholders):
    return ServiceValidationError(
        translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
    )


def setup(hass):
    hass.services.async_register(DOMAIN, SERVICE_REFRESH, print)
    raise _invalid("not_found", entry_id="x")


def issue(hass):
    ir.async_create_issue(
        hass, DOMAIN, "id", translation_key=ISSUE_UNREACHABLE,
        translation_placeholders={"name": "a", "host": "b"},
    )
"""

SERVICES_YAML = """
refresh:
  fields:
    entry_id:
      selector:
        text:
"""


def quality_scale(rules: list[str] | None = None) -> str:
    """Return a quality_scale.yaml with `rules` (default: all) done."""
    lines = ["rules:"]
    for rule in validate.QUALITY_RULES if rules is None else rules:
        lines += [f"  {rule}:", "    status: done"]
    return "\n".join(lines) + "\n"


def write_integration(root: Path, **overrides: Any) -> Path:
    """Write a valid fake integration below `root`, with files replaced by `overrides`."""
    pkg = root / "custom_components" / "demo"
    (pkg / "translations").mkdir(parents=True)
    manifest = overrides.get("manifest", MANIFEST)
    strings = overrides.get("strings", STRINGS)
    files = {
        "manifest.json": manifest if isinstance(manifest, str) else json.dumps(manifest),
        "strings.json": json.dumps(strings),
        "translations/en.json": json.dumps(overrides.get("en", strings)),
        "icons.json": json.dumps(overrides.get("icons", ICONS)),
        "__init__.py": overrides.get(
            "init",
            "CONFIG_SCHEMA = object()\n\nasync def async_setup(hass, config):\n    return True\n",
        ),
        "const.py": CONST,
        "config_flow.py": overrides.get("config_flow", CONFIG_FLOW),
        "sensor.py": overrides.get("sensor", SENSOR),
        "services.py": overrides.get("services", SERVICES),
        "services.yaml": overrides.get("services_yaml", SERVICES_YAML),
        "quality_scale.yaml": overrides.get("quality_scale", quality_scale()),
        "device_trigger.py": overrides.get(
            "device_trigger", 'TRIGGER_TYPES = ("session_started",)\n'
        ),
    }
    for name, text in files.items():
        (pkg / name).write_text(textwrap.dedent(text))
    (pkg / "brand").mkdir()
    (pkg / "brand" / "icon.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(16))
    return pkg


def run(pkg: Path) -> Report:
    """Validate the package without a Home Assistant checkout."""
    return validate.validate(pkg, HomeAssistantInfo(None))


def test_good_integration_passes(tmp_path: Path) -> None:
    """Test that the valid fake integration has no errors or warnings."""
    report = run(write_integration(tmp_path))
    assert report.errors == []
    assert report.warnings == []


def _strings(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(STRINGS)
    change(data)
    return data


def _manifest(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(MANIFEST)
    change(data)
    return data


def _reordered() -> str:
    data = dict(MANIFEST)
    return json.dumps({"name": data.pop("name"), **data})


BAD_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "manifest missing version": (
        {"manifest": _manifest(lambda m: m.pop("version"))},
        "missing required key 'version'",
    ),
    "manifest bad iot_class": (
        {"manifest": _manifest(lambda m: m.update(iot_class="local_pull"))},
        "iot_class 'local_pull'",
    ),
    "manifest bad integration_type": (
        {"manifest": _manifest(lambda m: m.update(integration_type="gadget"))},
        "integration_type 'gadget'",
    ),
    "manifest key order": ({"manifest": _reordered()}, "keys must be ordered"),
    "manifest unknown key": (
        {"manifest": _manifest(lambda m: m.update(homeassistant="2025.4.0"))},
        "unknown key 'homeassistant'",
    ),
    "manifest bad version": (
        {"manifest": _manifest(lambda m: m.update(version="not a version!"))},
        "is not a valid version",
    ),
    "manifest domain mismatch": (
        {"manifest": _manifest(lambda m: m.update(domain="other"))},
        "does not match folder",
    ),
    "en.json differs": (
        {"en": _strings(lambda s: s["config"]["error"].pop("unknown"))},
        "config.error.unknown missing from translations/en.json",
    ),
    "config error missing": (
        {"strings": _strings(lambda s: s["config"]["error"].pop("cannot_connect"))},
        "config.error.cannot_connect missing",
    ),
    "abort reason missing": (
        {"strings": _strings(lambda s: s["config"]["abort"].pop("already_configured"))},
        "config.abort.already_configured missing",
    ),
    "step missing": (
        {"strings": _strings(lambda s: s["config"]["step"].pop("user"))},
        "config.step.user missing",
    ),
    "data_description without data": (
        {
            "strings": _strings(
                lambda s: s["config"]["step"]["user"]["data_description"].update(port="x")
            )
        },
        "data_description.port has no data entry",
    ),
    "description placeholder not passed": (
        {"config_flow": CONFIG_FLOW.replace('{"host_hint": "nina"}', "{}")},
        "uses ['host_hint']",
    ),
    "entity translation key missing": (
        {"strings": _strings(lambda s: s["entity"]["sensor"].pop("frames"))},
        "entity translation_key 'frames'",
    ),
    "enum state missing": (
        {"strings": _strings(lambda s: s["entity"]["sensor"]["state"]["state"].pop("busy"))},
        "entity.sensor.state.state.busy missing",
    ),
    "exception key missing": (
        {"strings": _strings(lambda s: s.pop("exceptions"))},
        "exception translation_key 'not_found'",
    ),
    "exception placeholder missing": (
        {"services": SERVICES.replace('entry_id="x"', "")},
        "exceptions.not_found needs placeholders ['entry_id']",
    ),
    "issue placeholder missing": (
        {"services": SERVICES.replace(', "host": "b"', "")},
        "issues.unreachable needs placeholders ['host']",
    ),
    "service field untranslated": (
        {"services_yaml": SERVICES_YAML + "    limit:\n      selector:\n        number:\n"},
        "refresh.limit missing from strings.json services.refresh.fields",
    ),
    "service not described": (
        {"services_yaml": "{}\n"},
        "service 'refresh' is registered but not described",
    ),
    "admin service not described": (
        {
            "services_yaml": "{}\n",
            "services": SERVICES.replace(
                "hass.services.async_register(DOMAIN, SERVICE_REFRESH, print)",
                "async_register_admin_service(hass, DOMAIN, SERVICE_REFRESH, print)",
            ),
        },
        "service 'refresh' is registered but not described",
    ),
    "icon for unknown service": (
        {"icons": {**ICONS, "services": {"refresh": "mdi:r", "gone": "mdi:x"}}},
        "services.gone is not in services.yaml",
    ),
    "icon for unknown entity": (
        {
            "icons": {
                "entity": {"sensor": {"ghost": {"default": "mdi:x"}}},
                "services": {"refresh": "mdi:r"},
            }
        },
        "entity.sensor.ghost is not a translation key",
    ),
    "quality scale rule missing": (
        {"quality_scale": quality_scale([r for r in validate.QUALITY_RULES if r != "brands"])},
        "rule 'brands' missing",
    ),
    "quality scale exempt without comment": (
        {
            "quality_scale": quality_scale().replace(
                "  brands:\n    status: done", "  brands:\n    status: exempt"
            )
        },
        "brands: exempt needs a comment",
    ),
    "quality scale bad status": (
        {
            "quality_scale": quality_scale().replace(
                "  brands:\n    status: done", "  brands:\n    status: maybe"
            )
        },
        "status 'maybe'",
    ),
    "invalid json": ({"manifest": "{not json"}, "invalid JSON"),
    "device trigger type untranslated": (
        {"device_trigger": 'TRIGGER_TYPES = ("session_started", "gone")\n'},
        "device_automation.trigger_type.gone missing",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_each_kind_of_problem_is_an_error(tmp_path: Path, case: str) -> None:
    """Test that each kind of problem is reported as an error."""
    overrides, expected = BAD_CASES[case]
    report = run(write_integration(tmp_path, **overrides))
    assert any(expected in error for error in report.errors), report.errors


def test_extra_strings_file_is_a_warning(tmp_path: Path) -> None:
    """Test that a strings file HA does not read is a warning, not an error."""
    pkg = write_integration(tmp_path)
    (pkg / "strings_extra.json").write_text("{}")
    report = run(pkg)
    assert report.errors == []
    assert any("strings_extra.json" in w for w in report.warnings)


def test_brand_icon_missing_is_a_warning_and_not_png_an_error(tmp_path: Path) -> None:
    """Test that a missing brand icon is a warning and one that is not a PNG an error."""
    pkg = write_integration(tmp_path)
    (pkg / "brand" / "icon.png").unlink()
    assert any("brand/icon.png" in w for w in run(pkg).warnings)
    (pkg / "brand" / "icon.png").write_text("not a png")
    assert any("is not a PNG" in e for e in run(pkg).errors)


@pytest.mark.parametrize(
    ("init", "refused"),
    [
        ("async def async_setup(hass, config):\n    return True\n", True),
        (  # made on first access: hassfest reads the file without running it
            "def __getattr__(name):\n    return object()\n"
            "async def async_setup(hass, config):\n    return True\n",
            True,
        ),
        ("CONFIG_SCHEMA: object = object()\ndef setup(hass, config):\n    return True\n", False),
        ("async def async_setup_entry(hass, entry):\n    return True\n", False),
    ],
)
def test_async_setup_needs_a_module_level_config_schema(
    tmp_path: Path, init: str, refused: bool
) -> None:
    """Test hassfest's config_schema rule: async_setup/setup and no module-level schema."""
    errors = run(write_integration(tmp_path, init=init)).errors
    assert any("CONFIG_SCHEMA" in error for error in errors) == refused, errors


def test_installed_home_assistant_supplies_manifest_keys() -> None:
    """Test that the installed Home Assistant supplies manifest keys, integrations and strings."""
    info = HomeAssistantInfo.find()
    if info.root is None:
        pytest.skip("homeassistant not installed")
    assert "Manifest" in info.source
    assert "hub" in info.integration_types
    assert "version" in info.manifest_keys
    assert info.has_integration("http") is True
    assert info.strings_reference("common::config_flow::data::host") is True
    assert info.strings_reference("common::config_flow::data::no_such_thing") is False


def test_main_exit_code_and_hassfest_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Test that the command exits 1 on errors, notes hassfest's absence, ends with a summary."""
    pkg = write_integration(
        tmp_path, strings=_strings(lambda s: s["config"]["error"].pop("unknown"))
    )
    assert validate.main(["--package", str(pkg)]) == 1
    out = capsys.readouterr().out
    assert "hassfest is not in the homeassistant wheel" in out
    assert "ERROR" in out
    assert out.strip().splitlines()[-1].startswith("validate: ")
