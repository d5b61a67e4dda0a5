// The NINA event behind a state change, in words. The words are strings.json's (the Session
// state sensor's `cause` attribute states), read through `hass.localize`, so a new cause or a
// new language needs no change here. The rule is cause_words.py's, which the logbook uses:
//
// - the key is the cause in lower case, every run of other characters one "_";
// - the most specific translated key wins: <cause>_<reason>, then <cause>_<state> (the state
//   it led to: a frame "starts" flats or darks, a safety change pauses or resumes), <cause>;
// - a cause with no words yet reads as its code in lower-case words ("stack updated").

const PREFIX = "component.nina_session.entity.sensor.session_state.state_attributes.cause.state.";

const key = (text) =>
  String(text)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");

/** The translation keys that may name `cause`, the most specific first. */
export function causeKeys(cause, state, reason) {
  const base = key(cause);
  const keys = reason ? [`${base}_${key(reason)}`] : [];
  if (state) keys.push(`${base}_${key(state)}`);
  keys.push(base);
  return keys;
}

/** `cause` in words; `localize` is `hass.localize` ("" or the key itself when it has none). */
export function causeWords(localize, cause, state, reason) {
  if (!cause) return "";
  for (const k of causeKeys(cause, state, reason)) {
    const text = localize?.(`${PREFIX}${k}`);
    if (text && text !== `${PREFIX}${k}`) return text;
  }
  return String(cause).toLowerCase().replace(/-/g, " ");
}
