"""Equipment reads and control calls of the Advanced API plugin (API v2).

Reads: the `/equipment/info` bundle (plugin 2.2.15+: one ~7 kB answer for all devices);
a plugin without it gets the per-device `/equipment/<device>/info` reads instead, from then
on. An endpoint the plugin lacks is logged once and skipped. `/equipment/focuser/last-af`
holds the last *successful* autofocus; before the first one it answers an error, which is
"no report yet", not a failure.

Control: every call is a GET with query parameters. The plugin answers HTTP 200 whether it
worked or not; `Success: false` with `Error` ("Mount not connected", "Sequence is already
running", ...) becomes an `EquipmentControlError` that names the action and the plugin's
reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import logging
from typing import Any, Final

from .client import NinaApiError, NinaClient, NinaError, NinaNotPluginError, is_missing
from .equipment import DEVICE_CLASSES, Autofocus, Device, parse_bundle, parse_device

_LOGGER = logging.getLogger(__name__)

BUNDLE_PATH: Final = "/equipment/info"
LAST_AF_PATH: Final = "/equipment/focuser/last-af"

#: Control actions and their endpoints (christian-photo/ninaAPI 2.2.15).
ACTIONS: Final[Mapping[str, str]] = {
    "mount_park": "/equipment/mount/park",
    "mount_unpark": "/equipment/mount/unpark",
    "mount_home": "/equipment/mount/home",
    "mount_slew": "/equipment/mount/slew",  # ra, dec (degrees), center, waitForResult
    "mount_stop_slew": "/equipment/mount/slew/stop",
    "mount_tracking": "/equipment/mount/tracking",  # mode: 0 sidereal … 5 stopped
    "sequence_start": "/sequence/start",
    "sequence_stop": "/sequence/stop",
    "sequence_reset": "/sequence/reset",
    "sequence_load": "/sequence/load",  # sequenceName
    "autofocus": "/equipment/focuser/auto-focus",  # cancel
    "focuser_move": "/equipment/focuser/move",  # position
    "camera_abort_exposure": "/equipment/camera/abort-exposure",
    "camera_cool": "/equipment/camera/cool",  # temperature, minutes (-1: the profile's)
    "camera_warm": "/equipment/camera/warm",  # minutes
    "camera_dew_heater": "/equipment/camera/dew-heater",  # power
    "guider_start": "/equipment/guider/start",  # calibrate
    "guider_stop": "/equipment/guider/stop",
    "dome_open": "/equipment/dome/open",
    "dome_close": "/equipment/dome/close",
    "dome_stop": "/equipment/dome/stop",
    "dome_park": "/equipment/dome/park",
    "dome_home": "/equipment/dome/home",
    "flat_light": "/equipment/flatdevice/set-light",  # on
    "flat_cover": "/equipment/flatdevice/set-cover",  # closed
    "flat_brightness": "/equipment/flatdevice/set-brightness",  # brightness
    "switch_set": "/equipment/switch/set",  # index, value
    "filter_change": "/equipment/filterwheel/change-filter",  # filterId
    "rotator_move": "/equipment/rotator/move",  # position
}

type ParamValue = str | int | float | bool


class EquipmentControlError(NinaError):
    """The plugin refused a control call (`Success: false`); `error` is its reason."""

    def __init__(self, action: str, status_code: int, error: str) -> None:
        """Initialize the error with the action, the body's status code and its text."""
        super().__init__(f"{action} failed: {error} ({status_code})")
        self.action = action
        self.status_code = status_code
        self.error = error


def _query(params: Mapping[str, ParamValue]) -> dict[str, str]:
    """Query values as the plugin's EmbedIO parses them (`true`/`false`, plain numbers)."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            out[key] = str(int(value))
        else:
            out[key] = str(value)
    return out


class EquipmentClient:
    """Equipment reads and control calls of one NINA, over the engine's `NinaClient`."""

    def __init__(self, client: NinaClient) -> None:
        """Initialize over `client` (its session, timeouts and size limits)."""
        self._client = client
        #: None until the first read tells whether the plugin has the bundle.
        self.has_bundle: bool | None = None
        #: Endpoints the plugin does not have (each logged once).
        self.missing: set[str] = set()

    def _lacks(self, path: str) -> None:
        if path not in self.missing:
            self.missing.add(path)
            _LOGGER.info("NINA at %s has no %s (older plugin): skipped", self._client.host, path)

    async def read(self, classes: Iterable[str] | None = None) -> dict[str, Device]:
        """Read the equipment: all of it from the bundle, else `classes` one by one.

        A device the plugin cannot report (an error in its answer) is left out, so the
        others still count; a connection error propagates.
        """
        if self.has_bundle is not False:
            try:
                payload = (await self._client.v2_get(BUNDLE_PATH)).payload(missing_ok=True)
            except NinaApiError as err:
                # One device's driver threw inside the bundle: ask the devices one by one.
                _LOGGER.debug("%s failed (%s): reading devices one by one", BUNDLE_PATH, err)
            else:
                if not is_missing(payload):
                    self.has_bundle = True
                    return parse_bundle(payload)
                self.has_bundle = False
                self._lacks(BUNDLE_PATH)
        devices: dict[str, Device] = {}
        for device_class in DEVICE_CLASSES if classes is None else classes:
            device = await self.read_device(device_class)
            if device is not None:
                devices[device_class] = device
        return devices

    async def read_device(self, device_class: str) -> Device | None:
        """Read one device class from `/equipment/<class>/info`; None if it cannot."""
        path = f"/equipment/{device_class}/info"
        if path in self.missing:
            return None
        try:
            payload = (await self._client.v2_get(path)).payload(missing_ok=True)
        except (NinaApiError, NinaNotPluginError) as err:
            _LOGGER.debug("%s failed: %s", path, err)
            return None
        if is_missing(payload):
            self._lacks(path)
            return None
        return parse_device(device_class, payload)

    async def last_autofocus(self) -> Autofocus | None:
        """Return the last successful autofocus; None before the first (or without one)."""
        if LAST_AF_PATH in self.missing:
            return None
        try:
            payload = (await self._client.v2_get(LAST_AF_PATH)).payload(missing_ok=True)
        except NinaApiError as err:  # "No AF available" (500) until the first run
            _LOGGER.debug("%s: %s", LAST_AF_PATH, err)
            return None
        if is_missing(payload):
            self._lacks(LAST_AF_PATH)
            return None
        return Autofocus.parse(payload) if isinstance(payload, Mapping) else None

    async def sequences(self) -> list[str]:
        """Return the sequences NINA can load (its sequence folder, without `.json`)."""
        payload = await self._checked("sequence_list", "/sequence/list-available", {})
        return (
            [item for item in payload if isinstance(item, str)] if isinstance(payload, list) else []
        )

    async def call(self, action: str, params: Mapping[str, ParamValue] | None = None) -> str:
        """Run a control action (a key of ACTIONS); return the plugin's message.

        Raises EquipmentControlError when the plugin refuses, NinaConnectionError when NINA
        cannot be reached, ValueError for an unknown action.
        """
        path = ACTIONS.get(action)
        if path is None:
            raise ValueError(f"unknown equipment action {action!r}")
        payload = await self._checked(action, path, params or {})
        _LOGGER.debug("%s: %s", action, payload)
        return payload if isinstance(payload, str) else ""

    async def _checked(self, action: str, path: str, params: Mapping[str, ParamValue]) -> Any:
        raw = await self._client.v2_get(path, _query(params))
        try:
            payload = raw.payload(missing_ok=True)
        except NinaApiError as err:
            raise EquipmentControlError(action, err.status_code, err.error) from err
        if is_missing(payload):
            raise EquipmentControlError(action, 404, f"this plugin has no {path}")
        return payload
