"""Recent frames for the card: thumbnails of NINA's newest frames, downloaded once for all.

`GET /api/nina_session/frames[?entry_id=]` answers `{"frames": [index, ...]}`, the positions
in NINA's image history of the newest `RECENT_FRAMES` frames, oldest first.
`GET /api/nina_session/frames/{index}[?entry_id=]` answers that frame's JPEG thumbnail (404
for a position outside that window, or when the plugin has no thumbnail). Both need Home
Assistant authentication, so the card fetches them with the user's token and they work on an
HTTPS dashboard, where the observatory's plain-HTTP address would be blocked.

However many dashboards show the strip, each thumbnail is downloaded from NINA once: a
`PictureCache` per entry keeps the newest ones (bounded in bytes). The frame count is read once
per connection and then moved on by live IMAGE-SAVE events, as the latest-frame image does.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
import logging
from typing import Any, Final

from aiohttp import web
from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .coordinator import NinaSessionConfigEntry
from .engine.client import NinaError
from .engine.engine import EngineUpdate, NinaEngine
from .engine.picture_cache import PictureCache
from .views import API_BASE, _GetView, error_response

_LOGGER = logging.getLogger(__name__)

#: Frames in the card's strip.
RECENT_FRAMES: Final = 8
#: NINA's thumbnails are small JPEGs (tens of kB): room for several strips' worth.
CACHE_BYTES: Final = 2 * 1024 * 1024

DATA_FRAMES: HassKey[dict[str, RecentFrames]] = HassKey(f"{DOMAIN}_frames")
DATA_FRAMES_VIEWS: HassKey[bool] = HassKey(f"{DOMAIN}_frames_views")


def frames_of(hass: HomeAssistant, entry: NinaSessionConfigEntry) -> RecentFrames:
    """Return the entry's `RecentFrames`, made on first use and dropped when it unloads."""
    registry = hass.data.setdefault(DATA_FRAMES, {})
    frames = registry.get(entry.entry_id)
    if frames is None:
        frames = registry[entry.entry_id] = RecentFrames(entry.runtime_data.engine)

        @callback
        def _close() -> None:
            frames.close()
            registry.pop(entry.entry_id, None)

        entry.async_on_unload(_close)
    return frames


class RecentFrames:
    """Where NINA's newest frames are in its image history, and their thumbnails."""

    def __init__(self, engine: NinaEngine) -> None:
        """Follow the engine's connection and live frames."""
        self._engine = engine
        self.thumbnails: PictureCache[int] = PictureCache(engine.client.thumbnail, CACHE_BYTES)
        #: Frames in NINA's image history; None until read on this connection.
        self._count: int | None = None
        self._counting: asyncio.Task[int] | None = None
        #: A frame came while the count was being read: it may or may not be in it.
        self._recount = False
        self._connected_since = engine.health.since
        self._unsubscribe = engine.subscribe(self._on_update)

    def close(self) -> None:
        """Stop following the engine."""
        self._unsubscribe()

    async def indices(self) -> list[int]:
        """Return the positions of the newest frames, oldest first (empty: no frame yet)."""
        if self._count is None:
            if self._counting is None or self._counting.done():
                self._recount = False
                self._counting = asyncio.create_task(self._engine.client.image_count())
            count = await asyncio.shield(self._counting)
            if not self._recount:
                self._count = count
        else:
            count = self._count
        return list(range(max(0, count - RECENT_FRAMES), count))

    @callback
    def _on_update(self, update: EngineUpdate) -> None:
        if update.reason == "connection":
            since = self._engine.health.since
            if since != self._connected_since:
                # A new connection: NINA may have restarted and its positions name other frames.
                self._connected_since = since
                self._count = None
                self.thumbnails.clear()
            return
        if update.reason != "events" or update.result is None:
            return
        saved = sum(item.event.name == "IMAGE-SAVE" for item in update.result.applied)
        if not saved:
            return
        if self._count is not None:
            self._count += saved
        else:
            self._recount = True


class FramesView(_GetView):
    """`GET /api/nina_session/frames[?entry_id=]`: positions of the newest frames."""

    url = f"{API_BASE}/frames"
    name = f"api:{DOMAIN}:frames"

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the window of frames the strip shows."""
        try:
            indices = await frames_of(hass, entry).indices()
        except NinaError as err:
            return _unreachable(err)
        return self.json({"frames": indices})


class FrameThumbnailView(_GetView):
    """`GET /api/nina_session/frames/{index}[?entry_id=]`: one recent frame's thumbnail."""

    url = f"{API_BASE}/frames/{{index}}"
    name = f"api:{DOMAIN}:frame"

    async def get(self, request: web.Request, index: str) -> web.Response:  # type: ignore[override]
        """Answer the thumbnail (the position is read from the path in `handle`)."""
        return await self._answer(request)

    async def handle(
        self,
        hass: HomeAssistant,
        entry: NinaSessionConfigEntry,
        params: dict[str, Any],
        request: web.Request,
    ) -> web.Response:
        """Answer the thumbnail from memory, or download it once for every viewer."""
        frames = frames_of(hass, entry)
        text = request.match_info["index"]
        try:
            index = int(text) if text.isdigit() else -1
            recent = await frames.indices()
            picture = await frames.thumbnails.get(index) if index in recent else None
        except NinaError as err:
            return _unreachable(err)
        if picture is None:
            return error_response(
                HTTPStatus.NOT_FOUND, "no_thumbnail", f"No thumbnail of a recent frame {text!r}"
            )
        # A position names one frame until NINA restarts: let a browser keep it a while.
        return web.Response(
            body=picture,
            content_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=300"},
        )


def _unreachable(err: NinaError) -> web.Response:
    _LOGGER.debug("Recent frames: %s", err)
    return error_response(HTTPStatus.BAD_GATEWAY, "nina_unreachable", str(err))


@callback
def async_register_frames_views(hass: HomeAssistant) -> None:
    """Register the recent-frames views once per Home Assistant run."""
    if hass.data.get(DATA_FRAMES_VIEWS):
        return
    hass.data[DATA_FRAMES_VIEWS] = True
    hass.http.register_view(FramesView())
    hass.http.register_view(FrameThumbnailView())
