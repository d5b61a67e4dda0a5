"""The NINA event behind a state change, in words: the words are strings.json's, nowhere else.

A state change carries its cause as NINA names it ("SAFETY-CHANGED") and, for pauses and
waits, a reason ("guiding_lost"). The words live in strings.json under the Session state
sensor's `cause` attribute (`entity.sensor.session_state.state_attributes.cause.state`), so a
new cause or language is a line there. The same words show on the card, which looks them up
with `hass.localize` by the same rule (`causeKeys` in www/nina-session-card.js):

- the key is the cause in lower case, every run of other characters one `_`;
- the most specific translated key wins: `<cause>_<reason>`, then `<cause>_<state>` (the
  state it led to: a frame "starts" flats or darks, a safety change pauses or resumes), then
  `<cause>`;
- a cause with no words yet reads as its code in lower-case words ("stack updated").
"""

from __future__ import annotations

from collections.abc import Mapping
import re

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_cached_translations

from .const import DOMAIN

#: Where the words of a cause key are, in Home Assistant's flattened translations.
CAUSE_TRANSLATION_PREFIX = (
    f"component.{DOMAIN}.entity.sensor.session_state.state_attributes.cause.state."
)
_NOT_KEY = re.compile(r"[^a-z0-9]+")


def _key(text: str) -> str:
    return _NOT_KEY.sub("_", text.lower()).strip("_")


def cause_keys(cause: str, state: str | None = None, reason: str | None = None) -> list[str]:
    """Return the translation keys that may name `cause`, the most specific first."""
    base = _key(cause)
    keys = [f"{base}_{_key(reason)}"] if reason else []
    if state:
        keys.append(f"{base}_{_key(state)}")
    keys.append(base)
    return keys


def cause_words(
    words: Mapping[str, str], cause: str, state: str | None = None, reason: str | None = None
) -> str:
    """Return `cause` in words: the first of its keys that `words` (key: text) names."""
    for key in cause_keys(cause, state, reason):
        if text := words.get(key):
            return text
    return cause.lower().replace("-", " ")


def translated_cause_words(hass: HomeAssistant, language: str = "en") -> dict[str, str]:
    """Return the cause words (key: text) Home Assistant holds, English where one is missing."""
    words: dict[str, str] = {}
    for lang in dict.fromkeys(("en", language)):
        cached = async_get_cached_translations(hass, lang, "entity", DOMAIN)
        words.update(
            (key.removeprefix(CAUSE_TRANSLATION_PREFIX), text)
            for key, text in cached.items()
            if key.startswith(CAUSE_TRANSLATION_PREFIX)
        )
    return words
