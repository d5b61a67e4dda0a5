"""The session card is served and added to the frontend without a manual resource step."""

from __future__ import annotations

from pathlib import Path
import re
import shutil
from unittest.mock import Mock

from homeassistant.components.frontend import DATA_EXTRA_MODULE_URL, UrlManager
from homeassistant.const import EVENT_COMPONENT_LOADED
from homeassistant.core import HomeAssistant
from homeassistant.setup import ATTR_COMPONENT, async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.nina_session import frontend
from custom_components.nina_session.frontend import (
    CARD_FILE,
    DATA_FRONTEND,
    STATIC_URL,
    async_register_frontend,
    card_version,
)


def _fake_frontend(hass: HomeAssistant) -> UrlManager:
    """Set up what the frontend integration provides for extra modules (its wheel is demo-only)."""
    manager = UrlManager(Mock(), [])
    hass.data[DATA_EXTRA_MODULE_URL] = manager
    return manager


async def test_card_and_editor_are_served(
    hass: HomeAssistant, hass_client: ClientSessionGenerator
) -> None:
    """Test that the card and its editor are served as JavaScript defining custom elements."""
    assert await async_setup_component(hass, "http", {})
    await async_register_frontend(hass)
    client = await hass_client()
    for name in (
        CARD_FILE,
        "nina-session-card-editor.js",
        "nina-equipment-row.js",
        "nina-quality-spark.js",
        "nina-frames-strip.js",
    ):
        response = await client.get(f"{STATIC_URL}/{name}")
        assert response.status == 200, name
        assert "javascript" in response.headers["Content-Type"]
        text = await response.text()
        assert "customElements.define" in text or "export function" in text
    card = await (await client.get(f"{STATIC_URL}/{CARD_FILE}")).text()
    assert "window.customCards.push" in card
    assert "nina_session/subscribe" in card


async def test_module_added_to_a_loaded_frontend(hass: HomeAssistant) -> None:
    """Test that the card is added as a versioned extra module when the frontend is loaded."""
    assert await async_setup_component(hass, "http", {})
    manager = _fake_frontend(hass)
    hass.config.components.add("frontend")
    await async_register_frontend(hass)
    version = await hass.async_add_executor_job(card_version)
    assert manager.urls == frozenset({f"/nina_session/{CARD_FILE}?v={version}"})
    assert len(version) == 12


async def test_module_added_when_the_frontend_loads_later(hass: HomeAssistant) -> None:
    """Test that the card is added once when the frontend loads after the integration."""
    assert await async_setup_component(hass, "http", {})
    await async_register_frontend(hass)
    manager = _fake_frontend(hass)
    assert not manager.urls
    hass.config.components.add("frontend")
    hass.bus.async_fire(EVENT_COMPONENT_LOADED, {ATTR_COMPONENT: "frontend"})
    await hass.async_block_till_done()
    assert len(manager.urls) == 1
    # Registered once per run, however often it is called.
    assert async_register_frontend(hass) is hass.data[DATA_FRONTEND]
    await hass.data[DATA_FRONTEND]
    assert len(manager.urls) == 1


async def test_without_http_nothing_breaks(hass: HomeAssistant) -> None:
    """Test that registering the frontend without the http integration does not fail."""
    await async_register_frontend(hass)
    assert DATA_FRONTEND in hass.data


def test_every_module_the_card_imports_is_in_the_cache_buster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Test that a change to any module the card imports changes the card's `?v=` version.

    The card imports its siblings with its own query (served with long cache headers), so a
    module left out of the hash would stay stale in browsers after an update.
    """
    www = tmp_path / "www"
    shutil.copytree(frontend.WWW_DIR, www)
    monkeypatch.setattr(frontend, "WWW_DIR", www)
    card = (www / CARD_FILE).read_text(encoding="utf-8")
    imported = set(re.findall(r'sibling\("([^"]+)"\)', card))
    assert imported == {
        "nina-session-card-editor.js",
        "nina-equipment-row.js",
        "nina-quality-spark.js",
        "nina-frames-strip.js",
        "nina-cause-words.js",
    }
    for name in sorted(imported):
        before = card_version()
        with (www / name).open("a", encoding="utf-8") as module:
            module.write("\n// changed\n")
        assert card_version() != before, f"{name} is not in the card's cache buster"
