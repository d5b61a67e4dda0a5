// node --test tests/card/: the card says a state change's cause in strings.json's words, by
// the same rule as the logbook (cause_words.py; both read tests/card/cause_cases.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { causeKeys, causeWords } from "../../custom_components/nina_session/www/nina-cause-words.js";

const strings = JSON.parse(
  readFileSync(new URL("../../custom_components/nina_session/strings.json", import.meta.url)),
);
const WORDS = strings.entity.sensor.session_state.state_attributes.cause.state;
const PREFIX = "component.nina_session.entity.sensor.session_state.state_attributes.cause.state.";
const CASES = JSON.parse(readFileSync(new URL("./cause_cases.json", import.meta.url)));

/** hass.localize over strings.json as the frontend loads it ("" for a key it lacks). */
const localize = (key) => (key.startsWith(PREFIX) ? (WORDS[key.slice(PREFIX.length)] ?? "") : "");

test("the keys go from the most specific to the cause alone, as in cause_words.py", () => {
  for (const c of CASES) assert.deepEqual(causeKeys(c.cause, c.state, c.reason), c.keys, c.cause);
});

test("causes read in strings.json's words; one without words reads as its code", () => {
  for (const c of CASES) assert.equal(causeWords(localize, c.cause, c.state, c.reason), c.words);
});

test("every cause strings.json names reaches the card", () => {
  assert.ok(Object.keys(WORDS).length >= 20);
  for (const [key, words] of Object.entries(WORDS)) {
    assert.equal(causeWords(localize, key.toUpperCase(), null, null), words, key);
  }
});

test("a frontend that answers a missing key with the key itself still gets words", () => {
  const echo = (key) => key;
  assert.equal(causeWords(echo, "SAFETY-CHANGED", "paused"), "safety changed");
  assert.equal(causeWords(undefined, "MOUNT-HOMED", "paused"), "mount homed");
  assert.equal(causeWords(localize, null, "paused"), "");
});
