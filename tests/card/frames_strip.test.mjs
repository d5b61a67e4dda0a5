// node --test tests/card/: the card's recent-frames strip with a hass object as the frontend has it.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  FramesStrip,
  framesStrip,
  newestFrameKey,
} from "../../custom_components/nina_session/www/nina-frames-strip.js";

/** A hass with HA's two authenticated helpers, answering from `thumbnails` (position -> bytes). */
function fakeHass(thumbnails, log = []) {
  return {
    callApi: async (method, path) => {
      log.push(`${method} ${path}`);
      return { frames: Object.keys(thumbnails).map(Number) };
    },
    fetchWithAuth: async (path) => {
      log.push(`fetch ${path}`);
      const index = Number(path.split("/").pop().split("?")[0]);
      const bytes = thumbnails[index];
      if (bytes === undefined) return new Response("{}", { status: 404 });
      return new Response(new Blob([bytes], { type: "image/jpeg" }));
    },
  };
}

const model = (last, total) => ({ session: { current: { last_image_at: last }, frames: { total } } });

test("hidden with no thumbnails, and nothing is fetched without hass", async () => {
  const strip = new FramesStrip(() => {});
  assert.equal(strip.html(null, null, model("a", 1)), "");
  const empty = fakeHass({});
  strip.html(empty, null, model("a", 1));
  await strip.refresh(empty, null);
  assert.equal(strip.html(empty, null, model("a", 1)), "");
});

test("draws a blob-URL image per thumbnail through the authenticated API", async () => {
  const log = [];
  const hass = fakeHass({ 6: "six", 7: "seven" }, log);
  let redraws = 0;
  const strip = new FramesStrip(() => redraws++);
  assert.equal(strip.html(hass, "E1", model("t1", 8)), ""); // the read has just started
  await strip.refresh(hass, "E1");
  const html = strip.html(hass, "E1", model("t1", 8));
  assert.equal((html.match(/<img src="blob:/g) ?? []).length, 2);
  assert.match(html, /Frame 7/);
  assert.ok(redraws >= 1);
  assert.ok(log.includes("GET nina_session/frames?entry_id=E1"));
  assert.ok(log.includes("fetch /api/nina_session/frames/7?entry_id=E1"));
  strip.dispose();
});

test("a new frame reads the list again and fetches only the new thumbnail", async () => {
  const log = [];
  const thumbnails = { 0: "a", 1: "b" };
  const hass = fakeHass(thumbnails, log);
  const strip = new FramesStrip(() => {});
  strip.html(hass, null, model("t1", 2));
  await strip.refresh(hass, null);
  strip.html(hass, null, model("t1", 2)); // same frame: no read
  assert.equal(log.filter((l) => l.startsWith("GET")).length, 2); // html + refresh above
  delete thumbnails[0];
  thumbnails[2] = "c";
  log.length = 0;
  strip.html(hass, null, model("t2", 3));
  await strip.refresh(hass, null);
  const fetched = log.filter((l) => l.startsWith("fetch"));
  assert.deepEqual(fetched, ["fetch /api/nina_session/frames/2"]);
  const html = strip.html(hass, null, model("t2", 3));
  assert.doesNotMatch(html, /Frame 1"/);
  assert.match(html, /Frame 3/);
  strip.dispose();
});

test("a missing thumbnail or a failing API leaves the strip as it was", async () => {
  const hass = fakeHass({ 4: "four" });
  hass.fetchWithAuth = async () => new Response("{}", { status: 404 });
  const strip = new FramesStrip(() => {});
  strip.html(hass, null, model("t", 5));
  await strip.refresh(hass, null);
  assert.equal(strip.html(hass, null, model("t", 5)), "");
  const broken = { callApi: async () => { throw new Error("502"); }, fetchWithAuth: hass.fetchWithAuth };
  strip.html(broken, null, model("t2", 6));
  await strip.refresh(broken, null);
  assert.equal(strip.html(broken, null, model("t2", 6)), "");
});

test("one strip per card, and the key follows the newest frame", () => {
  const card = { _queueRender() {} };
  assert.equal(framesStrip(card), framesStrip(card));
  assert.notEqual(framesStrip(card), framesStrip({}));
  assert.notEqual(newestFrameKey(model("a", 1)), newestFrameKey(model("b", 1)));
  assert.equal(newestFrameKey(null), newestFrameKey({ session: null }));
});
