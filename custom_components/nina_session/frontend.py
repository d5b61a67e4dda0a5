"""The session card: served from `www/` and loaded by the frontend without a resource step.

`async_register_frontend(hass)` is called once from `async_setup`. It registers
`/nina_session/` as a static path for `www/` and adds the card module to the frontend's
extra module URLs, with a content hash as the cache buster (the files are cached for a
long time). Without the `frontend` integration (tests, headless setups) there is nothing to
add; if the frontend is set up after us, the module is added when it has loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import Final

from homeassistant.components.http import StaticPathConfig
from homeassistant.const import EVENT_COMPONENT_LOADED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import ATTR_COMPONENT
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN

_LOGGER = logging.getLogger(__name__)

#: URL prefix of `www/` (the card and its editor).
STATIC_URL: Final = f"/{DOMAIN}"
WWW_DIR: Final = Path(__file__).parent / "www"
CARD_FILE: Final = "nina-session-card.js"
#: Files whose content goes into the cache buster: the card and the modules it imports (with
#: the same `?v=` query, so a change to any of them reaches browsers that cached the others).
_HASHED_FILES: Final = (
    CARD_FILE,
    "nina-session-card-editor.js",
    "nina-equipment-row.js",
    "nina-quality-spark.js",
    "nina-frames-strip.js",
    "nina-cause-words.js",
)

DATA_FRONTEND: HassKey[asyncio.Task[None]] = HassKey(f"{DOMAIN}_frontend")


def card_version() -> str:
    """Return a short hash of the card's files: it changes whenever they change."""
    digest = hashlib.sha256()
    for name in _HASHED_FILES:
        path = WWW_DIR / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@callback
def async_register_frontend(hass: HomeAssistant) -> asyncio.Task[None]:
    """Serve `www/` and load the card module in every frontend; once per HA run.

    A callback that schedules the work: the returned task may be awaited, or not.
    """
    if (task := hass.data.get(DATA_FRONTEND)) is not None:
        return task
    task = hass.async_create_task(_async_register(hass), f"{DOMAIN} frontend")
    hass.data[DATA_FRONTEND] = task
    return task


async def _async_register(hass: HomeAssistant) -> None:
    try:
        await _async_serve_card(hass)
    except Exception:
        # The card is an extra: never let it break the integration, but say why.
        _LOGGER.exception("Serving the session card failed")


async def _async_serve_card(hass: HomeAssistant) -> None:
    if getattr(hass, "http", None) is None:
        _LOGGER.debug("No HTTP server: the session card is not served")
        return
    version = await hass.async_add_executor_job(card_version)
    await hass.http.async_register_static_paths(
        [StaticPathConfig(STATIC_URL, str(WWW_DIR), cache_headers=True)]
    )
    module_url = f"{STATIC_URL}/{CARD_FILE}?v={version}"
    if "frontend" in hass.config.components:
        _add_module(hass, module_url)
        return

    @callback
    def _frontend_loaded(event: Event) -> None:
        if event.data.get(ATTR_COMPONENT) == "frontend":
            remove()
            _add_module(hass, module_url)

    remove = hass.bus.async_listen(EVENT_COMPONENT_LOADED, _frontend_loaded)


@callback
def _add_module(hass: HomeAssistant, url: str) -> None:
    # Not a manifest dependency: the card is offered only when the frontend loads.
    from homeassistant.components.frontend import add_extra_js_url  # noqa: PLC0415

    add_extra_js_url(hass, url)
    _LOGGER.debug("Session card module added: %s", url)
