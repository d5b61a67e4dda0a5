"""Constants of the NINA Session integration.

Free of Home Assistant imports on purpose: the package `__init__` and the HA-free engine
tests and CLI import it.
"""

from __future__ import annotations

from typing import Final

from .engine import moments

DOMAIN: Final = "nina_session"


# Config entry data (connection); host and port use HA's CONF_HOST/CONF_PORT spellings.
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_NAME: Final = "name"
CONF_TLS: Final = "tls"
CONF_VERIFY_TLS: Final = "verify_tls"
#: Stable per-entry instance id (slug), fixed at creation; unique ids and session ids use it.
CONF_INSTANCE: Final = "instance"

DEFAULT_PORT: Final = 1888
DEFAULT_VERIFY_TLS: Final = True

# Options.
CONF_RETENTION_DAYS: Final = "retention_days"
CONF_IDLE_GAP_MINUTES: Final = "idle_gap_minutes"
CONF_DEDUP_WINDOW: Final = "dedup_window_seconds"
CONF_BACKFILL_ON_CONNECT: Final = "backfill_on_connect"
CONF_NINA_TIMEZONE: Final = "nina_timezone"
CONF_DEBUG_RECORDING: Final = "debug_recording"

DEFAULT_RETENTION_DAYS: Final = 365
DEFAULT_IDLE_GAP_MINUTES: Final = 120
DEFAULT_DEDUP_WINDOW: Final = 1.0
DEFAULT_BACKFILL_ON_CONNECT: Final = True
DEFAULT_DEBUG_RECORDING: Final = False

#: Sub-directory of the HA config dir with one SQLite file (and recording) per entry.
STORAGE_DIR: Final = "nina_session"

#: HA bus event fired for every event the engine applied live, and for history events of the
#: last `engine.history_summary.RECENT_HISTORY` (missed during a short disconnect).
EVENT_NINA_SESSION: Final = "nina_session_event"
#: HA bus event fired once per history merge for its older events, instead of one each: how
#: many by type and their time range. Automations never hear a night long past event by event.
EVENT_BACKFILLED: Final = "nina_session_backfilled"

# Repair issues (ids get the entry id appended).
ISSUE_UNREACHABLE: Final = "nina_unreachable"
ISSUE_UNSUPPORTED_VERSION: Final = "unsupported_plugin_version"
ISSUE_STORAGE_FAILING: Final = "storage_failing"
ISSUE_DATABASE_RECOVERED: Final = "database_recovered"
#: Raised while setup retries because the database cannot be opened (removed once it opens).
ISSUE_DATABASE_UNAVAILABLE: Final = "database_unavailable"

# Trigger types: the moments of a night the coordinator reports (device triggers, event entity).
# Which engine result is which moment is decided in engine.moments.
EVENT_SESSION_STARTED: Final = moments.SESSION_STARTED
EVENT_SESSION_ENDED: Final = moments.SESSION_ENDED
EVENT_STATE_CHANGED: Final = moments.STATE_CHANGED
EVENT_IMAGE_SAVED: Final = moments.IMAGE_SAVED
EVENT_AUTOFOCUS_FINISHED: Final = moments.AUTOFOCUS_FINISHED
EVENT_MERIDIAN_FLIP: Final = moments.MERIDIAN_FLIP
EVENT_GUIDING_LOST: Final = moments.GUIDING_LOST
EVENT_ERROR: Final = moments.ERROR
#: What the event entity fires: the rare moments no entity's state shows. Each fire is a
#: logbook row, so frames (image_saved) and state changes (the state sensor tells them) stay
#: device triggers and bus events only; filter and target changes are those sensors' changes.
EVENT_TYPES: Final[tuple[str, ...]] = (
    EVENT_SESSION_STARTED,
    EVENT_SESSION_ENDED,
    EVENT_AUTOFOCUS_FINISHED,
    EVENT_MERIDIAN_FLIP,
    EVENT_GUIDING_LOST,
    EVENT_ERROR,
)
