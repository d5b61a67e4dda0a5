"""The repair issues of one NINA instance: raised when the user must act, removed once fixed.

Not named `repairs.py`: Home Assistant loads that name as the integration's repairs platform
(fix flows), and none of these issues has a flow; each says what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir

from .const import (
    DOMAIN,
    ISSUE_DATABASE_RECOVERED,
    ISSUE_STORAGE_FAILING,
    ISSUE_UNREACHABLE,
    ISSUE_UNSUPPORTED_VERSION,
)
from .engine.client import (
    MIN_PLUGIN_VERSION,
    NinaError,
    is_supported_plugin_version,
    parse_plugin_version,
)
from .engine.engine import NinaEngine
from .snapshot import HealthSnapshot


def create_repair_issue(
    hass: HomeAssistant,
    entry: ConfigEntry,
    key: str,
    severity: ir.IssueSeverity,
    placeholders: Mapping[str, str],
) -> None:
    """Raise the entry's repair issue `key` (translated; `name` is the entry's title)."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"{key}_{entry.entry_id}",
        is_fixable=False,
        severity=severity,
        translation_key=key,
        translation_placeholders={"name": entry.title, **placeholders},
    )


def delete_repair_issue(hass: HomeAssistant, entry: ConfigEntry, key: str) -> None:
    """Remove the entry's repair issue `key`, if it is raised."""
    ir.async_delete_issue(hass, DOMAIN, f"{key}_{entry.entry_id}")


class RepairIssues:
    """Follows the engine's health and keeps the entry's repair issues in step with it."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, engine: NinaEngine) -> None:
        """Start with no issue raised by this entry."""
        self._hass = hass
        self._entry = entry
        self._engine = engine
        #: Translation keys of the issues raised.
        self.raised: set[str] = set()

    def update(self, health: HealthSnapshot) -> None:
        """Raise what `health` says the user must fix; remove what got fixed."""
        client = self._engine.client
        # Unreachable: raised after many failures in a row, removed only once connected.
        unreachable = health.failing and not health.connected
        self._set(
            ISSUE_UNREACHABLE,
            True if unreachable else (False if health.connected else None),
            ir.IssueSeverity.WARNING,
            lambda: {
                "host": client.host,
                "port": str(client.port),
                "error": health.last_error or "",
            },
        )
        # A database that refuses writes (events wait in memory), or one found damaged.
        self._set(
            ISSUE_STORAGE_FAILING,
            health.storage_error is not None,
            ir.IssueSeverity.ERROR,
            lambda: {
                "path": self._engine.config.db_path.name,
                "error": health.storage_error or "",
            },
        )
        recovered = self._engine.recovered_db
        self._set(
            ISSUE_DATABASE_RECOVERED,
            True if recovered is not None else None,
            ir.IssueSeverity.WARNING,
            lambda: {"moved_to": recovered.name if recovered else ""},
        )
        version = health.plugin_version
        if version is None:
            return
        try:
            supported = is_supported_plugin_version(parse_plugin_version(version))
        except NinaError:
            supported = False
        self._set(
            ISSUE_UNSUPPORTED_VERSION,
            not supported,
            ir.IssueSeverity.ERROR,
            lambda: {
                "version": version,
                "minimum": ".".join(str(part) for part in MIN_PLUGIN_VERSION),
            },
        )

    def _set(
        self,
        key: str,
        active: bool | None,
        severity: ir.IssueSeverity,
        placeholders: Callable[[], dict[str, str]],
    ) -> None:
        """Raise issue `key` when `active`, remove it when False; None leaves it as it is."""
        if active and key not in self.raised:
            self.raised.add(key)
            create_repair_issue(self._hass, self._entry, key, severity, placeholders())
        elif active is False and key in self.raised:
            self.raised.discard(key)
            delete_repair_issue(self._hass, self._entry, key)
